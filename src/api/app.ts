// The HTTP API and the browser console: health, tags, telemetry, complaint intake, incidents, work
// orders, crews and KPI. Domain work is delegated to the storage, complaint and work-order modules;
// this layer authenticates, checks each route's roles, validates, maps errors to status codes and logs.
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type NextFunction, type Request, type Response } from 'express';
import helmet from 'helmet';
import type pg from 'pg';
import type { Geocoder } from '../complaints/geocoder.js';
import type { SiteConfig } from '../contracts/site.js';
import type { Logger } from '../log.js';
import type { StorageFlavour } from '../storage/migrate.js';
import { WorkOrderConflictError, WorkOrderInputError, WorkOrderNotFoundError } from '../workorders/work-orders.js';
import { AccessError, authenticate, rateLimits } from './access.js';
import type { LiveEvents } from './live-events.js';
import { authRoutes } from './routes/auth.js';
import { complaintRoutes } from './routes/complaints.js';
import { healthRoutes, type HealthProbe } from './routes/health.js';
import { incidentRoutes } from './routes/incidents.js';
import { kpiRoutes } from './routes/kpi.js';
import { liveRoutes } from './routes/live.js';
import { metricsRoute } from './routes/metrics.js';
import { telemetryRoutes } from './routes/telemetry.js';
import { workOrderRoutes } from './routes/work-orders.js';
import { DocumentedRouter, openApiDocument, type MountedRouter } from './openapi.js';
import { NotFoundError, RequestValidationError } from './validation.js';

export interface ApiDependencies {
  pool: pg.Pool;
  site: SiteConfig;
  log: Logger;
  brokerConnected: () => boolean;
  /** Which migrations the database took: decides where bucketed telemetry is read from. */
  storageFlavour: StorageFlavour;
  clock?: () => number;
  /** Places complaints given as addresses; by default the site's streets (`customers.streets`). */
  geocoder?: Geocoder;
  /** Prometheus text of the process's metrics (connector health), served at /metrics. */
  metrics?: () => Promise<string>;
  /** Live telemetry and events from the broker, streamed to the console; absent, the streams answer 503. */
  live?: LiveEvents;
  /** Requests per client address; the defaults suit a control room behind one NAT address. */
  limits?: { failedLoginsPer15Min: number; webhookPerMinute: number; anonymousPerMinute: number };
  /** Set when a reverse proxy terminates TLS: the client address and https come from its headers. */
  trustProxy?: boolean;
}

const defaultLimits = { failedLoginsPer15Min: 10, webhookPerMinute: 600, anonymousPerMinute: 300 };

const consoleDirectory = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'console');
const uplotDirectory = path.dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.esm.js'));

export function createApp(deps: ApiDependencies): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (deps.trustProxy) app.set('trust proxy', 1);
  app.use(helmet());
  app.use(authenticate(deps.pool, deps.clock ?? Date.now));
  const limits = rateLimits(deps.limits ?? defaultLimits);
  app.use(limits.anonymous);
  // A bulk import carries up to 1000 complaints of up to 5000 characters each.
  app.use('/api/v1/complaints\\:bulk', express.json({ limit: '8mb' }));
  app.use(express.json({ limit: '1mb' }));
  const probe: HealthProbe = { pool: deps.pool, brokerConnected: deps.brokerConnected };
  const mounted: MountedRouter[] = [
    { prefix: '/', documented: healthRoutes(probe) },
    ...(deps.metrics === undefined ? [] : [{ prefix: '/', documented: metricsRoute(deps.metrics) }]),
    { prefix: '/api/v1', documented: authRoutes(deps, limits.login) },
    { prefix: '/api/v1', documented: telemetryRoutes(deps) },
    { prefix: '/api/v1', documented: liveRoutes(deps, deps.live) },
    { prefix: '/api/v1', documented: complaintRoutes(deps, limits.webhook) },
    { prefix: '/api/v1', documented: incidentRoutes(deps) },
    { prefix: '/api/v1', documented: workOrderRoutes(deps) },
    { prefix: '/api/v1', documented: kpiRoutes(deps) },
  ];
  const contract = new DocumentedRouter('contract');
  mounted.push({ prefix: '/api/v1', documented: contract });
  let document: unknown;
  contract.get('/openapi.json', { summary: 'this document: the API as OpenAPI 3.1', access: 'public', responses: { 200: 'the document' } }, (_request, response) => {
    document ??= openApiDocument({ title: `Tirta API (${deps.site.site.name})`, version: '1', description: 'Telemetry, complaints, incidents, work orders, dispatch and KPI of a water utility.' }, mounted);
    response.json(document);
  });
  for (const { prefix, documented } of mounted) app.use(prefix, documented.router);
  // The console: static pages that call the API above with the session cookie.
  app.use('/assets/uplot', express.static(uplotDirectory, { index: false }));
  app.use(express.static(consoleDirectory, { extensions: ['html'] }));
  app.use((request: Request, response: Response) => {
    response.status(404).json({ error: 'not_found', message: `no route for ${request.method} ${request.path}` });
  });
  app.use((error: unknown, request: Request, response: Response, _next: NextFunction) => {
    if (error instanceof AccessError) {
      response.status(error.status).json({ error: error.status === 401 ? 'unauthenticated' : 'forbidden', message: error.message });
      return;
    }
    if (error instanceof RequestValidationError) {
      response.status(400).json({ error: 'validation_failed', message: error.message, issues: error.issues });
      return;
    }
    if (error instanceof WorkOrderConflictError) {
      response.status(409).json({ error: error.code, message: error.message, status: error.current.status, version: error.current.version, allowed_actions: error.current.allowedActions });
      return;
    }
    if (error instanceof WorkOrderInputError) {
      response.status(400).json({ error: 'validation_failed', message: error.message, issues: [{ field: error.field, message: error.reason }] });
      return;
    }
    if (error instanceof NotFoundError || error instanceof WorkOrderNotFoundError) {
      response.status(404).json({ error: 'not_found', message: error.message });
      return;
    }
    const status = (error as { status?: number; type?: string }).status;
    if (status !== undefined && status >= 400 && status < 500) {
      // express.json() errors: malformed JSON, body too large, wrong charset.
      response.status(status).json({ error: 'bad_request', message: (error as Error).message });
      return;
    }
    deps.log.error({ err: error, method: request.method, path: request.path }, 'request failed');
    response.status(500).json({ error: 'internal_error', message: 'the request failed; see the service log' });
  });
  return app;
}
