// An HTTP app on a free local port for a test, with its API base URL.
import type { Server } from 'node:http';
import type { Express } from 'express';

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
