// A private PostgreSQL cluster on a fixed port that a test stops and starts again, as a database
// server restart or failover would: the system's connections all break at once, then the same
// address answers again with the committed data.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/log.js';
import { freePort, startEmbeddedPostgres, type EmbeddedService } from '../../src/runtime/embedded-services.js';

export interface RestartablePostgres {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  remove(): Promise<void>;
}

export async function restartablePostgres(): Promise<RestartablePostgres> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tirta-postgres-'));
  const port = await freePort();
  let running: EmbeddedService | undefined = await startEmbeddedPostgres(dataDir, silentLogger, port);
  const url = running.url;
  const stop = async () => {
    await running?.stop();
    running = undefined;
  };
  return {
    url,
    async start() {
      running ??= await startEmbeddedPostgres(dataDir, silentLogger, port);
    },
    stop,
    async remove() {
      await stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
