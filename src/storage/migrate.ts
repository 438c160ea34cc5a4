// Schema migrations: numbered SQL files in migrations/, applied in order, each once, each in its
// own transaction, under an advisory lock so that concurrent starts cannot race. A migration may
// come in two variants, NNN_name.timescaledb.sql and NNN_name.postgres.sql: the first is applied
// where the TimescaleDB extension is available, the second elsewhere.
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { TirtaError } from '../errors.js';
import type { SqlDatabase, SqlSession } from './sql.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/', import.meta.url));
/** Arbitrary constant shared by every Tirta process: the key of the migration advisory lock. */
const MIGRATION_LOCK_KEY = 7_448_201_935;

export type StorageFlavour = 'timescaledb' | 'postgres';

export interface MigrationFile {
  version: number;
  name: string;
  variant: StorageFlavour | null;
  file: string;
  sql: string;
  checksum: string;
}

export interface MigrationReport {
  flavour: StorageFlavour;
  applied: string[];
  alreadyApplied: number;
}

export class MigrationError extends TirtaError {
  constructor(
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('migration_failed', `${file}: ${message}`, options);
  }
}

const FILE_PATTERN = /^(\d{3})_([a-z0-9_]+?)(?:\.(timescaledb|postgres))?\.sql$/;

export async function readMigrations(directory: string = MIGRATIONS_DIR): Promise<MigrationFile[]> {
  const names = (await readdir(directory)).filter((name) => name.endsWith('.sql')).sort();
  const files: MigrationFile[] = [];
  for (const name of names) {
    const match = FILE_PATTERN.exec(name);
    if (match === null) throw new MigrationError(name, 'name must be NNN_name.sql, NNN_name.timescaledb.sql or NNN_name.postgres.sql');
    const sql = await readFile(path.join(directory, name), 'utf8');
    files.push({
      version: Number(match[1]),
      name: match[2]!,
      variant: (match[3] as StorageFlavour | undefined) ?? null,
      file: name,
      sql,
      checksum: createHash('sha256').update(sql).digest('hex'),
    });
  }
  const byVersion = new Map<number, MigrationFile[]>();
  for (const file of files) byVersion.set(file.version, [...(byVersion.get(file.version) ?? []), file]);
  for (const [version, group] of byVersion) {
    const variants = group.map((file) => file.variant);
    const plain = variants.length === 1 && variants[0] === null;
    const pair = variants.length === 2 && variants.includes('timescaledb') && variants.includes('postgres') && group[0]!.name === group[1]!.name;
    if (!plain && !pair) {
      throw new MigrationError(group.map((file) => file.file).join(', '), `version ${version} must be one file, or one .timescaledb.sql and one .postgres.sql of the same name`);
    }
  }
  return files;
}

/** The files to apply for a flavour, one per version, in order. */
export function planMigrations(files: readonly MigrationFile[], flavour: StorageFlavour): MigrationFile[] {
  return files.filter((file) => file.variant === null || file.variant === flavour).sort((a, b) => a.version - b.version);
}

export async function detectFlavour(session: SqlSession): Promise<StorageFlavour> {
  const { rows } = await session.query<{ available: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') AS available",
  );
  return rows[0]?.available ? 'timescaledb' : 'postgres';
}

export interface MigrateOptions {
  directory?: string;
  /** Forces a flavour; by default TimescaleDB is used where the server offers it. */
  flavour?: StorageFlavour;
  onApplied?: (file: MigrationFile) => void;
}

export async function migrate(database: SqlDatabase, options: MigrateOptions = {}): Promise<MigrationReport> {
  const files = await readMigrations(options.directory);
  return database.withSession(async (session) => {
    await session.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      await session.execScript(`CREATE TABLE IF NOT EXISTS schema_migration (
        version integer PRIMARY KEY,
        name text NOT NULL,
        file text NOT NULL,
        checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
      )`);
      const applied = (
        await session.query<{ version: number; file: string; checksum: string }>('SELECT version, file, checksum FROM schema_migration ORDER BY version')
      ).rows;
      // Once applied, the flavour is a property of the database, not of the server it now runs on.
      const recordedFlavour = applied.map((row) => FILE_PATTERN.exec(row.file)?.[3] as StorageFlavour | undefined).find((variant) => variant !== undefined);
      const flavour = recordedFlavour ?? options.flavour ?? (await detectFlavour(session));
      const plan = planMigrations(files, flavour);
      const appliedByVersion = new Map(applied.map((row) => [row.version, row]));
      for (const row of applied) {
        const file = plan.find((candidate) => candidate.version === row.version);
        if (file === undefined) throw new MigrationError(row.file, 'was applied to this database but is missing from the migrations folder');
        if (file.file !== row.file) throw new MigrationError(file.file, `version ${row.version} was applied from ${row.file}`);
        if (file.checksum !== row.checksum) {
          throw new MigrationError(file.file, `changed after it was applied (checksum ${row.checksum.slice(0, 12)} recorded, ${file.checksum.slice(0, 12)} now); add a new migration instead`);
        }
      }
      const appliedNow: string[] = [];
      for (const file of plan) {
        if (appliedByVersion.has(file.version)) continue;
        await session.execScript('BEGIN');
        try {
          await session.execScript(file.sql);
          await session.query('INSERT INTO schema_migration (version, name, file, checksum) VALUES ($1, $2, $3, $4)', [file.version, file.name, file.file, file.checksum]);
          await session.execScript('COMMIT');
        } catch (cause) {
          await session.execScript('ROLLBACK').catch(() => undefined);
          throw new MigrationError(file.file, `failed: ${(cause as Error).message}`, { cause });
        }
        appliedNow.push(file.file);
        options.onApplied?.(file);
      }
      return { flavour, applied: appliedNow, alreadyApplied: applied.length };
    } finally {
      await session.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch(() => undefined);
    }
  });
}
