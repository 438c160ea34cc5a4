// Runtime settings from the environment, validated once at start-up.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError, formatPath } from '../errors.js';

const environmentSchema = z.object({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL').optional(),
  MQTT_URL: z.string().regex(/^(mqtts?|wss?|tcp):\/\//, 'must be an mqtt://, mqtts://, tcp:// or ws(s):// URL').optional(),
  PORT: z.coerce.number().int().min(0).max(65_535).default(8080),
  HOST: z.string().min(1).default('127.0.0.1'),
  TIRTA_DATA_DIR: z.string().min(1).default('data'),
  TIRTA_SIM_PORT: z.coerce.number().int().min(0).max(65_535).default(8081),
  TIRTA_METRICS_PORT: z.coerce.number().int().min(0).max(65_535).default(9464),
  TIRTA_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(400),
  TIRTA_COMPRESS_AFTER_DAYS: z.coerce.number().int().min(1).max(36_500).default(7),
  TIRTA_INSTANCE_ID: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, "_", "." or "-", at most 64').optional(),
  TIRTA_SITE_CONFIG: z.string().min(1).default('config/demo-town.yaml'),
  TIRTA_API_KEY: z.string().regex(/^tirta_key_[A-Za-z0-9_-]{20,}$/, 'must be an API key from tirta key add (tirta_key_...)').optional(),
  TIRTA_TRUST_PROXY: z.enum(['true', 'false']).optional(),
  TIRTA_INGEST_SHARED: z.enum(['true', 'false']).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export interface RuntimeEnvironment {
  databaseUrl: string | undefined;
  mqttUrl: string | undefined;
  port: number;
  host: string;
  dataDir: string;
  simPort: number;
  metricsPort: number;
  retention: { retentionDays: number; compressAfterDays: number };
  /** Names this process to the broker (ingest sessions); stable across restarts. */
  instanceId: string;
  siteConfigFile: string;
  logLevel: string;
  /** The key `tirta sim --complaints-to` posts synthetic complaints with. */
  apiKey?: string | undefined;
  /** Behind a TLS-terminating reverse proxy: client addresses and https from its headers. */
  trustProxy?: boolean;
  /** Ingest joins its site's shared subscription, so that several ingest processes split the stream. */
  ingestShared?: boolean;
}

export function readEnvironment(env: NodeJS.ProcessEnv = process.env): RuntimeEnvironment {
  const blankAsUnset = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = environmentSchema.safeParse(blankAsUnset);
  if (!result.success) {
    throw new ConfigError('environment', result.error.issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })));
  }
  const parsed = result.data;
  return {
    databaseUrl: parsed.DATABASE_URL,
    mqttUrl: parsed.MQTT_URL,
    port: parsed.PORT,
    host: parsed.HOST,
    dataDir: path.resolve(parsed.TIRTA_DATA_DIR),
    simPort: parsed.TIRTA_SIM_PORT,
    metricsPort: parsed.TIRTA_METRICS_PORT,
    retention: { retentionDays: parsed.TIRTA_RETENTION_DAYS, compressAfterDays: parsed.TIRTA_COMPRESS_AFTER_DAYS },
    instanceId: parsed.TIRTA_INSTANCE_ID ?? os.hostname().replace(/[^A-Za-z0-9_.-]/g, '-').slice(0, 64),
    siteConfigFile: parsed.TIRTA_SITE_CONFIG,
    apiKey: parsed.TIRTA_API_KEY,
    trustProxy: parsed.TIRTA_TRUST_PROXY === 'true',
    ingestShared: parsed.TIRTA_INGEST_SHARED === 'true',
    logLevel: parsed.LOG_LEVEL,
  };
}
