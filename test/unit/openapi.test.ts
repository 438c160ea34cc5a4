// The OpenAPI document against the routes express really serves: every served route is in the
// document and every documented operation is served, and the schemas are the validators' own.
import { expect } from 'chai';
import type express from 'express';
import type pg from 'pg';
import { createApp } from '../../src/api/app.js';
import { loadSiteConfig } from '../../src/config/site-loader.js';
import { silentLogger } from '../../src/log.js';

type Layer = { rawPath?: string; route?: { path: string; methods: Record<string, boolean> }; handle: { stack?: Layer[] } };

/** "METHOD /path" of every route an express app serves, in OpenAPI path form. */
function servedRoutes(app: express.Express): string[] {
  const routes: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route !== undefined) {
        const path = `${prefix}${layer.route.path}`.replace(/\\:/g, '\u0000').replace(/:(\w+)/g, '{$1}').replace(/\u0000/g, ':');
        for (const method of Object.keys(layer.route.methods)) routes.push(`${method.toUpperCase()} ${path}`);
      } else if (layer.handle.stack !== undefined) {
        walk(layer.handle.stack, `${prefix}${layer.rawPath === '/' ? '' : (layer.rawPath ?? '')}`);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, '');
  return routes.sort();
}

function documentedRoutes(document: { paths: Record<string, Record<string, unknown>> }): string[] {
  return Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`)).sort();
}

describe('OpenAPI document', () => {
  let app: express.Express;
  let document: any;

  before(async () => {
    const site = await loadSiteConfig('config/demo-town.yaml');
    app = createApp({ pool: {} as pg.Pool, site, log: silentLogger, brokerConnected: () => true, storageFlavour: 'postgres', metrics: async () => '' });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const response = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1/openapi.json`);
    document = await response.json();
    server.close();
  });

  it('is OpenAPI 3.1 and lists exactly the routes express serves', () => {
    expect(document.openapi).to.equal('3.1.0');
    const served = servedRoutes(app);
    expect(served).to.include('POST /api/v1/work-orders/{id}/complete');
    expect(served).to.include('POST /api/v1/complaints:bulk');
    expect(documentedRoutes(document)).to.deep.equal(served);
  });

  it('notices a route served without documentation', async () => {
    const site = await loadSiteConfig('config/demo-town.yaml');
    const extended = createApp({ pool: {} as pg.Pool, site, log: silentLogger, brokerConnected: () => true, storageFlavour: 'postgres', metrics: async () => '' });
    extended.get('/api/v1/undocumented', (_request, response) => response.end());
    const missing = servedRoutes(extended).filter((route) => !documentedRoutes(document).includes(route));
    expect(missing).to.deep.equal(['GET /api/v1/undocumented']);
  });

  it("states each operation's roles and credentials", () => {
    const complete = document.paths['/api/v1/work-orders/{id}/complete'].post;
    expect(complete['x-roles']).to.deep.equal(['crew', 'dispatcher', 'admin']);
    expect(complete.security).to.deep.equal([{ apiKey: [] }, { session: [] }]);
    expect(document.paths['/health'].get.security).to.deep.equal([]);
    expect(document.paths['/health'].get.responses).to.not.have.property('401');
    expect(document.paths['/api/v1/webhooks/complaints'].post.security).to.deep.equal([{ webhookToken: [] }]);
    expect(Object.keys(document.components.securitySchemes)).to.have.members(['apiKey', 'session', 'webhookToken']);
  });

  it('takes parameters and bodies from the validating schemas', () => {
    const complete = document.paths['/api/v1/work-orders/{id}/complete'].post;
    expect(complete.parameters).to.deep.include({ name: 'id', in: 'path', required: true, schema: { type: 'string', minLength: 1, maxLength: 200 } });
    const body = complete.requestBody.content['application/json'].schema;
    expect(body.required).to.deep.equal(['version']);
    expect(body.properties.officers.type).to.equal('array');
    expect(body.additionalProperties).to.equal(false);
    expect(Object.keys(complete.responses)).to.have.members(['200', '400', '401', '403', '404', '409']);
    const telemetry = document.paths['/api/v1/telemetry'].get;
    expect(telemetry.parameters.filter((parameter: any) => parameter.required).map((parameter: any) => parameter.name)).to.have.members(['tag', 'from', 'to']);
    expect(Object.keys(telemetry.responses['200'].content)).to.deep.equal(['application/json', 'text/csv']);
    const complaints = document.paths['/api/v1/complaints'].get;
    expect(complaints.parameters.find((parameter: any) => parameter.name === 'zone').schema.enum).to.deep.equal(['dma-1', 'dma-2', 'dma-3']);
    const intake = document.paths['/api/v1/complaints'].post;
    expect(intake.parameters).to.deep.include({ name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 200 } });
    expect(intake.requestBody.content['application/json'].schema.properties.channel.enum).to.include('whatsapp');
  });

  it('gives every operation a unique id, a summary and a tag', () => {
    const operations = Object.values(document.paths).flatMap((path: any) => Object.values(path)) as any[];
    const ids = operations.map((operation) => operation.operationId);
    expect(new Set(ids).size).to.equal(ids.length);
    for (const operation of operations) {
      expect(operation.summary, operation.operationId).to.be.a('string').that.is.not.empty;
      expect(operation.tags, operation.operationId).to.have.length(1);
    }
  });
});
