// The one narrow port the storage code needs from a PostgreSQL connection, so the same
// migrations run on a pg Pool (production, CI) and on the PGlite TimescaleDB build (tests).
import pg from 'pg';

export interface SqlSession {
  /** One statement with $n parameters. */
  query<Row = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<{ rows: Row[] }>;
  /** Several statements separated by semicolons, no parameters (a migration file). */
  execScript(text: string): Promise<void>;
}

export interface SqlDatabase {
  /** Runs `work` on one dedicated connection (session state such as advisory locks stays with it). */
  withSession<T>(work: (session: SqlSession) => Promise<T>): Promise<T>;
}

export function pgDatabase(pool: pg.Pool): SqlDatabase {
  return {
    async withSession(work) {
      const client = await pool.connect();
      try {
        return await work({
          query: async <Row,>(text: string, params?: readonly unknown[]) => (await client.query(text, params as unknown[] | undefined)) as unknown as { rows: Row[] },
          execScript: async (text) => {
            await client.query(text);
          },
        });
      } finally {
        client.release();
      }
    },
  };
}

/** Runs `work` in a transaction on its own connection: committed if it resolves, rolled back if it throws. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
