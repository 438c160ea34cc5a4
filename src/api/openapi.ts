// The API's contract as OpenAPI 3.1, generated from the zod schemas the routes validate with.
// Routes are declared through DocumentedRouter, which registers the express handler and records
// the operation (summary, parameters, body, answers) in the same call, so the document cannot
// leave a route out; a test compares it with every route express serves.
import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { Access } from '../contracts/access.js';
import { requireAccess } from './access.js';

type Method = 'get' | 'post' | 'delete';

export interface OperationDoc {
  summary: string;
  /** Who may call it: checked before the handlers run, and stated in the document. */
  access: Access;
  description?: string;
  params?: z.ZodType;
  query?: z.ZodType;
  body?: z.ZodType;
  /** Request headers the route reads, by name. */
  headers?: Record<string, z.ZodType>;
  /** Status code → what it means. */
  responses: Record<number, string>;
  /** Media types of the successful answer; JSON when absent. */
  produces?: string[];
}

export interface DocumentedOperation extends OperationDoc {
  method: Method;
  /** The express path relative to the router (`/work-orders/:id`). */
  path: string;
  tag: string;
}

/** An express router that records each route's documentation as it registers it. */
export class DocumentedRouter {
  readonly router = Router();
  readonly operations: DocumentedOperation[] = [];

  constructor(readonly tag: string) {}

  get(path: string, doc: OperationDoc, ...handlers: RequestHandler[]): void {
    this.add('get', path, doc, handlers);
  }

  post(path: string, doc: OperationDoc, ...handlers: RequestHandler[]): void {
    this.add('post', path, doc, handlers);
  }

  delete(path: string, doc: OperationDoc, ...handlers: RequestHandler[]): void {
    this.add('delete', path, doc, handlers);
  }

  private add(method: Method, path: string, doc: OperationDoc, handlers: RequestHandler[]): void {
    this.operations.push({ ...doc, method, path, tag: this.tag });
    this.router[method](path, requireAccess(doc.access), ...handlers);
  }
}

/** `/work-orders/:id/assign` → `/work-orders/{id}/assign`; `/complaints\:bulk` → `/complaints:bulk`. */
export function openApiPath(expressPath: string): string {
  return expressPath.replace(/\\:/g, '\u0000').replace(/:([A-Za-z_][A-Za-z0-9_]*)/g, '{$1}').replace(/\u0000/g, ':');
}

type JsonSchema = Record<string, unknown> & { properties?: Record<string, JsonSchema>; required?: string[]; description?: string };

function jsonSchema(schema: z.ZodType): JsonSchema {
  const generated = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  delete generated.$schema;
  return generated;
}

function parametersOf(schema: z.ZodType | undefined, location: 'path' | 'query'): unknown[] {
  if (schema === undefined) return [];
  const generated = jsonSchema(schema);
  const required = new Set(generated.required ?? []);
  return Object.entries(generated.properties ?? {}).map(([name, property]) => ({
    name,
    in: location,
    required: location === 'path' || required.has(name),
    ...(property.description === undefined ? {} : { description: property.description }),
    schema: property,
  }));
}

const errorSchema = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'a code: validation_failed, not_found, stale_version, invalid_transition, ...' },
    message: { type: 'string' },
    issues: { type: 'array', items: { type: 'object', required: ['field', 'message'], properties: { field: { type: 'string' }, message: { type: 'string' } } } },
  },
};

function securityOf(access: Access): unknown[] {
  if (access === 'public') return [];
  if (access === 'webhook') return [{ webhookToken: [] }];
  return [{ apiKey: [] }, { session: [] }];
}

export interface MountedRouter {
  prefix: string;
  documented: DocumentedRouter;
}

export function openApiDocument(info: { title: string; version: string; description: string }, mounted: readonly MountedRouter[]) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const { prefix, documented } of mounted) {
    for (const operation of documented.operations) {
      const path = openApiPath(`${prefix === '/' ? '' : prefix}${operation.path}`);
      const headerParameters = Object.entries(operation.headers ?? {}).map(([name, schema]) => ({ name, in: 'header', required: false, schema: jsonSchema(schema) }));
      const produces = operation.produces ?? ['application/json'];
      const answers: Record<number, string> = { ...operation.responses };
      if (operation.access !== 'public') answers[401] ??= operation.access === 'webhook' ? 'no valid webhook token' : 'not signed in, or an unknown API key';
      if (Array.isArray(operation.access)) answers[403] ??= `the caller's role is not one of ${operation.access.join(', ')}`;
      const responses = Object.fromEntries(
        Object.entries(answers).map(([status, description]) => {
          const code = Number(status);
          if (code >= 400) return [status, { description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }];
          if (code === 204) return [status, { description }];
          return [status, { description, content: Object.fromEntries(produces.map((type) => [type, {}])) }];
        }),
      );
      (paths[path] ??= {})[operation.method] = {
        operationId: `${operation.method}${path.replace(/[^A-Za-z0-9]+(.)?/g, (_match, next: string | undefined) => (next ?? '').toUpperCase())}`,
        summary: operation.summary,
        ...(operation.description === undefined ? {} : { description: operation.description }),
        tags: [operation.tag],
        security: securityOf(operation.access),
        'x-roles': operation.access === 'public' || operation.access === 'webhook' ? operation.access : [...operation.access],
        parameters: [...parametersOf(operation.params, 'path'), ...parametersOf(operation.query, 'query'), ...headerParameters],
        ...(operation.body === undefined ? {} : { requestBody: { required: true, content: { 'application/json': { schema: jsonSchema(operation.body) } } } }),
        responses,
      };
    }
  }
  return {
    openapi: '3.1.0',
    info,
    jsonSchemaDialect: 'https://json-schema.org/draft/2020-12/schema',
    paths,
    components: {
      schemas: { Error: errorSchema },
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'an API key (tirta_key_...) for machines: tirta key add' },
        session: { type: 'apiKey', in: 'cookie', name: 'tirta_session', description: 'a person\'s session from POST /api/v1/auth/login' },
        webhookToken: { type: 'http', scheme: 'bearer', description: "a complaint channel's webhook token (tirta_hook_...): tirta webhook add" },
      },
    },
  };
}
