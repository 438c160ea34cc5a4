// An HTTP app on a free local port for a test, with its API base URL.
import type { Server } from 'node:http';
import type { Express } from 'express';
import type pg from 'pg';
import { createApiKey } from '../../src/access/accounts.js';
import type { Role } from '../../src/contracts/access.js';

export interface ServedApp {
  server: Server;
  /** http://127.0.0.1:{port}/api/v1 */
  apiUrl: string;
  close(): Promise<void>;
}

export async function serve(app: Express): Promise<ServedApp> {
  const server: Server = await new Promise((resolve) => {
    const listening = app.listen(0, '127.0.0.1', () => resolve(listening));
  });
  const port = (server.address() as { port: number }).port;
  return {
    server,
    apiUrl: `http://127.0.0.1:${port}/api/v1`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** API keys for a test's callers, one per name, made on first use; the name is the actor recorded. */
export class TestCallers {
  private readonly keys = new Map<string, Promise<string>>();

  constructor(private readonly pool: pg.Pool) {}

  async headers(name: string, role: Role, crew?: string): Promise<Record<string, string>> {
    let key = this.keys.get(name);
    if (key === undefined) {
      key = createApiKey(this.pool, { name, role, crew });
      this.keys.set(name, key);
    }
    return { authorization: `Bearer ${await key}` };
  }
}
