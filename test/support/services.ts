// Real PostgreSQL and MQTT for integration tests: the machine's services when DATABASE_URL and
// MQTT_URL are set (CI), else the same embedded defaults the runtime uses. Each test gets a
// fresh database of its own and drops it afterwards.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { silentLogger } from '../../src/log.js';
import { startEmbeddedBroker, startEmbeddedPostgres, type EmbeddedService } from '../../src/runtime/embedded-services.js';

interface SharedServices {
  adminUrl: string;
  mqttUrl: string;
  /** True when MQTT_URL names an external broker (MQTT 5 capable). */
  externalBroker: boolean;
}

let shared: Promise<SharedServices> | undefined;
const cleanups: Array<() => Promise<void>> = [];

export function testServices(): Promise<SharedServices> {
  shared ??= (async () => {
    let adminUrl = process.env.DATABASE_URL;
    let mqttUrl = process.env.MQTT_URL;
    if (adminUrl === undefined || adminUrl === '') {
      const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tirta-test-pg-'));
      const embedded: EmbeddedService = await startEmbeddedPostgres(dataDir, silentLogger);
      cleanups.push(async () => {
        await embedded.stop();
        await rm(dataDir, { recursive: true, force: true });
      });
      adminUrl = embedded.url;
    }
    const externalBroker = mqttUrl !== undefined && mqttUrl !== '';
    if (!externalBroker) {
      const broker = await startEmbeddedBroker(silentLogger);
      cleanups.push(broker.stop);
      mqttUrl = broker.url;
    }
    return { adminUrl, mqttUrl: mqttUrl!, externalBroker };
  })();
  return shared;
}

export async function stopTestServices(): Promise<void> {
  for (const cleanup of cleanups.reverse()) await cleanup();
}

export interface FreshDatabase {
  url: string;
  pool: pg.Pool;
  drop(): Promise<void>;
}

export async function freshDatabase(): Promise<FreshDatabase> {
  const { adminUrl } = await testServices();
  const name = `tirta_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 5 });
  // DROP DATABASE ... WITH (FORCE) terminates any connection still open when a test ends; that
  // ends the test's database, and must not end the test run as an unhandled error.
  pool.on('error', () => undefined);
  return {
    url: url.toString(),
    pool,
    async drop() {
      await pool.end();
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await cleanup.end();
    },
  };
}

/** A unique id, so tests sharing a broker never see each other's topics. */
export function uniqueId(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${(lastError as Error).message}` : ''}`);
}
