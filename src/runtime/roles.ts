// Wires the roles of the one `tirta` binary: sim, connector, ingest, engine, api, and all of
// them together. Each role takes its services from a Services object that reaches external
// PostgreSQL and MQTT by URL, or starts the embedded defaults once.
import type { Server } from 'node:http';
import path from 'node:path';
import express from 'express';
import mqtt from 'mqtt';
import pg from 'pg';
import { CommandListener } from '../../connectors/commands.js';
import type { Connector } from '../../connectors/connector.js';
import { ConnectorMetrics } from '../../connectors/metrics.js';
import { createConnectors } from '../../connectors/registry.js';
import { MqttPublisher, redactUrl } from '../../connectors/publisher/mqtt-publisher.js';
import { createApp } from '../api/app.js';
import { LiveEvents } from '../api/live-events.js';
import { registerCustomerAccounts } from '../complaints/customer-accounts.js';
import { metricsRoute } from '../api/routes/metrics.js';
import type { RuntimeEnvironment } from '../config/environment.js';
import type { SiteConfig } from '../contracts/site.js';
import { DeviceStatusTracker } from '../engine/device-status.js';
import { LiveEngine } from '../engine/live-engine.js';
import { TelemetryIngest } from '../ingest/telemetry-ingest.js';
import type { Logger } from '../log.js';
import { PollingLoop } from '../polling-loop.js';
import { migrate, type MigrationReport, type StorageFlavour } from '../storage/migrate.js';
import { applyTimescalePolicies, pruneTelemetry } from '../storage/retention.js';
import { registerSite, type TagIds } from '../storage/site-registry.js';
import { pgDatabase } from '../storage/sql.js';
import { startEmbeddedBroker, startEmbeddedPostgres } from './embedded-services.js';
import { registerCrews } from '../workorders/crews.js';
import { LoggingChannelAdapter, NotificationSender } from '../workorders/notifications.js';
import { OutboxRelay } from '../workorders/outbox.js';
import { raiseSlaEscalations } from '../workorders/work-orders.js';
import type { Lifecycle } from './lifecycle.js';

export class Services {
  private pool: Promise<pg.Pool> | undefined;
  private mqttUrl: Promise<string> | undefined;
  private tagIds: Promise<TagIds> | undefined;

  constructor(
    readonly env: RuntimeEnvironment,
    readonly site: SiteConfig,
    readonly log: Logger,
    readonly lifecycle: Lifecycle,
  ) {}

  /** The database pool, with migrations applied. */
  database(): Promise<pg.Pool> {
    this.pool ??= (async () => {
      let url = this.env.databaseUrl;
      if (url === undefined) {
        const embedded = await startEmbeddedPostgres(this.env.dataDir, this.log.child({ component: 'embedded-postgres' }));
        this.lifecycle.add('embedded PostgreSQL', embedded.stop);
        url = embedded.url;
      }
      const pool = new pg.Pool({ connectionString: url, max: 10, application_name: 'tirta' });
      pool.on('error', (error) => this.log.warn({ err: error }, 'idle database connection failed'));
      this.lifecycle.add('database pool', () => pool.end());
      const report = await migrate(pgDatabase(pool));
      logMigrations(this.log, report);
      this.flavour = report.flavour;
      if (report.flavour === 'timescaledb') await applyTimescalePolicies(pool, this.env.retention);
      return pool;
    })();
    return this.pool;
  }

  /** Registers the site config's zones, devices, tags, customer accounts and crews; returns the tag ids. */
  registeredTags(): Promise<TagIds> {
    this.tagIds ??= this.database().then(async (pool) => {
      const tagIds = await registerSite(pool, this.site);
      // A relative accounts_file is read from beside the site file.
      const baseDir = this.env.siteConfigFile === '' ? undefined : path.dirname(path.resolve(this.env.siteConfigFile));
      const { accounts } = await registerCustomerAccounts(pool, this.site, { baseDir });
      if (accounts > 0) this.log.info({ accounts }, 'customer accounts registered');
      const roster = await registerCrews(pool, this.site);
      if (roster.crews > 0) this.log.info(roster, 'crews registered');
      return tagIds;
    });
    return this.tagIds;
  }

  broker(): Promise<string> {
    this.mqttUrl ??= (async () => {
      if (this.env.mqttUrl !== undefined) return this.env.mqttUrl;
      const embedded = await startEmbeddedBroker(this.log.child({ component: 'embedded-broker' }));
      this.lifecycle.add('embedded MQTT broker', embedded.stop);
      return embedded.url;
    })();
    return this.mqttUrl;
  }

  /** The storage path of the database, once migrated. */
  flavour: StorageFlavour | undefined;

  /** Connector health, for /metrics. */
  readonly connectorMetrics = new ConnectorMetrics();
  /** The running connectors, once the connector role has started. */
  connectors: Connector[] = [];

  /** The newest MQTT version the broker accepts: 5 (shared subscriptions) or 3.1.1 (the embedded broker). */
  brokerProtocolVersion(): Promise<4 | 5> {
    this.protocolVersion ??= this.broker().then((url) => probeProtocolVersion(url));
    return this.protocolVersion;
  }
  private protocolVersion: Promise<4 | 5> | undefined;
}

async function probeProtocolVersion(url: string): Promise<4 | 5> {
  const client = mqtt.connect(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, clientId: `tirta-probe-${process.pid}-${Date.now()}` });
  try {
    return await new Promise<4 | 5>((resolve, reject) => {
      client.once('connect', () => resolve(5));
      client.once('error', (error: Error & { code?: number }) => {
        // CONNACK 0x01 (3.1.1) or 0x84 (5): unsupported protocol version.
        if (error.code === 1 || error.code === 132 || /protocol version/i.test(error.message)) resolve(4);
        else reject(error);
      });
    });
  } finally {
    await client.endAsync(true);
  }
}

function logMigrations(log: Logger, report: MigrationReport): void {
  if (report.applied.length > 0) log.info({ flavour: report.flavour, applied: report.applied }, 'migrations applied');
  else log.info({ flavour: report.flavour, alreadyApplied: report.alreadyApplied }, 'database schema up to date');
}

/**
 * `clock` stamps the samples: wall time against real PLCs; the simulated plant's own time when
 * the connector polls a simulator in the same process, so that telemetry, synthetic complaints
 * and the engine share one time line at any speed.
 */
export async function startConnector(services: Services, connectorId = services.site.connector.id, clock: () => number = Date.now): Promise<MqttPublisher> {
  const url = await services.broker();
  const publisher = new MqttPublisher({
    url,
    site: services.site,
    connectorId,
    log: services.log.child({ component: 'connector' }),
    metrics: services.connectorMetrics,
    bufferDir: path.join(services.env.dataDir, 'buffer', services.site.site.id, connectorId),
    settings: services.site.connector,
  });
  const { connectors, unsupported } = createConnectors({
    site: services.site,
    sink: publisher,
    log: services.log.child({ component: 'connector' }),
    metrics: services.connectorMetrics,
    clock,
    dataDir: services.env.dataDir,
  });
  for (const device of unsupported) services.log.warn({ device: device.id, protocol: device.protocol }, 'no connector for this protocol in this build; device not polled');
  // Registered before the connectors so that, stopping in reverse, polling ends before the publisher closes.
  services.lifecycle.add('connector publisher', () => publisher.close());
  for (const connector of connectors) {
    connector.start();
    services.lifecycle.add(`connector ${connector.name}`, () => connector.stop());
  }
  services.log.info({ links: connectors.map((connector) => connector.name), broker: redactUrl(url) }, 'connector polling');
  services.connectors = connectors;
  const commands = new CommandListener({ url, site: services.site.site.id, connectorId, connectors, log: services.log.child({ component: 'commands' }) });
  await commands.start();
  services.lifecycle.add('command listener', () => commands.stop());
  return publisher;
}

const RETENTION_INTERVAL_MS = 3_600_000;

/** Plain PostgreSQL has no retention policy of its own: the ingest role prunes hourly. */
function scheduleRetention(services: Services, pool: pg.Pool): void {
  const log = services.log.child({ component: 'retention' });
  const job = new PollingLoop(
    async () => {
      const deleted = await pruneTelemetry(pool, services.env.retention.retentionDays, Date.now());
      if (deleted > 0) log.info({ deleted, retentionDays: services.env.retention.retentionDays }, 'old telemetry deleted');
    },
    { intervalMs: RETENTION_INTERVAL_MS, firstRunAfterMs: RETENTION_INTERVAL_MS, onError: (error) => log.error({ err: error }, 'retention job failed') },
  );
  job.start();
  services.lifecycle.add('retention job', () => job.stop());
}

/** The connector role's own /metrics, when it runs without the API. */
export async function startMetricsServer(services: Services, port: number): Promise<string> {
  const app = express();
  app.disable('x-powered-by');
  app.use(metricsRoute(() => services.connectorMetrics.render()).router);
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(port, services.env.host, (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  services.lifecycle.add('metrics server', () => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const url = `http://${services.env.host}:${typeof address === 'object' && address !== null ? address.port : port}/metrics`;
  services.log.info({ url }, `connector metrics at ${url}`);
  return url;
}

export async function startIngest(services: Services): Promise<TelemetryIngest> {
  const [pool, url, tagIds, protocolVersion] = await Promise.all([services.database(), services.broker(), services.registeredTags(), services.brokerProtocolVersion()]);
  const shared = services.env.ingestShared === true;
  if (shared && protocolVersion === 4) services.log.warn('broker speaks MQTT 3.1.1 only: TIRTA_INGEST_SHARED ignored, ingest uses a plain subscription (one ingest process per broker)');
  const ingest = new TelemetryIngest({
    mqttUrl: url,
    pool,
    tagIds: new Map([[services.site.site.id, tagIds]]),
    log: services.log.child({ component: 'ingest' }),
    clientId: `tirta-ingest-${services.site.site.id}-${services.env.instanceId}`,
    protocolVersion,
    // One group per site: the workers of a site split its stream, and no other site's workers take a share.
    // Without it, one worker holds a plain persistent subscription, which brokers restore exactly after a restart.
    ...(shared ? { sharedGroup: `tirta-ingest-${services.site.site.id}` } : {}),
  });
  await ingest.start();
  services.lifecycle.add('ingest', () => ingest.stop());
  if (services.flavour === 'postgres') scheduleRetention(services, pool);
  return ingest;
}

export async function startEngine(services: Services): Promise<{ tracker: DeviceStatusTracker; engine: LiveEngine }> {
  const [pool, url] = await Promise.all([services.database(), services.broker(), services.registeredTags()]);
  const tracker = new DeviceStatusTracker({ mqttUrl: url, pool, log: services.log.child({ component: 'engine' }), clientId: `tirta-engine-${services.site.site.id}-${process.pid}` });
  await tracker.start();
  services.lifecycle.add('engine link-state tracker', () => tracker.stop());
  const engine = new LiveEngine({ mqttUrl: url, pool, site: services.site, log: services.log.child({ component: 'engine' }), clientId: `tirta-engine-${services.site.site.id}-${services.env.instanceId}-${process.pid}` });
  await engine.start();
  services.lifecycle.add('engine', () => engine.stop());
  await startDispatch(services, pool, url);
  return { tracker, engine };
}

const SLA_CHECK_INTERVAL_MS = 30_000;

/** Dispatch's background work: the outbox relay to crews' phones, SLA escalations, complainant notifications. */
async function startDispatch(services: Services, pool: pg.Pool, brokerUrl: string): Promise<void> {
  const log = services.log.child({ component: 'dispatch' });
  const client = mqtt.connect(brokerUrl, { clientId: `tirta-dispatch-${services.site.site.id}-${services.env.instanceId}-${process.pid}`, reconnectPeriod: 1000 });
  client.on('error', (error) => log.warn({ err: error }, 'dispatch MQTT connection failed'));
  services.lifecycle.add('dispatch MQTT connection', () => client.endAsync());
  const relay = new OutboxRelay({ pool, mqtt: client, log });
  relay.start();
  services.lifecycle.add('outbox relay', () => relay.stop());
  const sender = new NotificationSender({ pool, adapters: [new LoggingChannelAdapter(services.log.child({ component: 'notifications' }))], log });
  sender.start();
  services.lifecycle.add('complainant notifications', () => sender.stop());
  const slaMonitor = new PollingLoop(
    async () => {
      const raised = await raiseSlaEscalations(pool, services.site.site.id, Date.now());
      if (raised.warnings + raised.breaches > 0) log.warn(raised, 'work orders escalated');
    },
    { intervalMs: SLA_CHECK_INTERVAL_MS, onError: (error) => log.error({ err: error }, 'SLA check failed') },
  );
  slaMonitor.start();
  services.lifecycle.add('SLA monitor', () => slaMonitor.stop());
}

export async function startApi(services: Services): Promise<{ server: Server; url: string }> {
  const [pool, brokerUrl] = await Promise.all([services.database(), services.broker(), services.registeredTags()]);
  // The API's own broker connection tells /health whether the broker is reachable.
  const brokerProbe = mqtt.connect(brokerUrl, { clientId: `tirta-api-${process.pid}`, reconnectPeriod: 1000 });
  brokerProbe.on('error', () => undefined);
  services.lifecycle.add('api broker connection', () => brokerProbe.endAsync(true));
  // The same connection feeds the console's live streams.
  const live = new LiveEvents({ client: brokerProbe, siteId: services.site.site.id, log: services.log.child({ component: 'api' }) });
  const app = createApp({
    pool,
    live,
    trustProxy: services.env.trustProxy ?? false,
    storageFlavour: services.flavour ?? 'postgres',
    site: services.site,
    log: services.log.child({ component: 'api' }),
    brokerConnected: () => brokerProbe.connected,
    metrics: () => services.connectorMetrics.render(),
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(services.env.port, services.env.host, (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  services.lifecycle.add('http server', async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
    });
  });
  // Stopped before the server (parts stop in reverse order): ending the hub ends the open streams, which server.close waits for.
  services.lifecycle.add('live updates', () => live.close());
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : services.env.port;
  const url = `http://${services.env.host}:${port}`;
  services.log.info({ url }, `Tirta API listening on ${url}`);
  return { server, url };
}
