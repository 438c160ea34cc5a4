// Request validation at the HTTP boundary: a bad request gets 400 naming every bad field.
import type { NextFunction, Request, Response } from 'express';
import type { z } from 'zod';
import { formatPath } from '../errors.js';

export interface FieldIssue {
  field: string;
  message: string;
}

export class RequestValidationError extends Error {
  readonly status = 400;
  constructor(
    readonly where: 'body' | 'query' | 'params' | 'header',
    readonly issues: FieldIssue[],
  ) {
    super(`invalid request ${where}: ${issues.map((issue) => `${issue.field}: ${issue.message}`).join('; ')}`);
  }
}

export function parseOrThrow<T extends z.ZodType>(schema: T, input: unknown, where: RequestValidationError['where']): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new RequestValidationError(
      where,
      result.error.issues.flatMap((issue) =>
        // An unknown field is named itself, not its parent object.
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => ({ field: formatPath([...issue.path, key]), message: 'unknown field' }))
          : [{ field: formatPath(issue.path) || where, message: issue.message }],
      ),
    );
  }
  return result.data;
}

export class NotFoundError extends Error {
  readonly status = 404;
}

/** Wraps an async handler so its rejection reaches the error middleware. */
export function route(handler: (request: Request, response: Response) => Promise<void>) {
  return (request: Request, response: Response, next: NextFunction) => {
    handler(request, response).catch(next);
  };
}
