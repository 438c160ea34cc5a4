// The `tirta` command: one binary, several roles. Exit codes: 0 ok, 1 runtime failure,
// 2 bad usage or bad configuration.
import { parseArgs } from 'node:util';
import { loadSiteConfig } from '../config/site-loader.js';
import { readEnvironment } from '../config/environment.js';
import { ConfigError, UsageError } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import { Lifecycle } from '../runtime/lifecycle.js';
import { Services, startApi, startConnector, startEngine, startIngest, startMetricsServer } from '../runtime/roles.js';
import { startAllInOne } from '../runtime/all-in-one.js';
import { startSimulator, startSimulatorHttp } from '../runtime/simulator.js';
import { loadDemoAccounts } from '../access/demo-accounts.js';
import { keyCommand, userCommand, webhookCommand, type AccessOptions } from './access-commands.js';
import { runReplay, writeReplayOutput, type ReplayProgress } from '../replay/replay.js';
import { pruneTelemetry } from '../storage/retention.js';
import { scenarioCommand } from './scenario-command.js';

export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

interface CommandOptions {
  telemetry: string | undefined;
  complaints: string | undefined;
  out: string | undefined;
  scenarios: string[];
  speed: number | undefined;
  seed: number | undefined;
  complaintsTo: string | undefined;
  demoAccounts: string | undefined;
  junit: string | undefined;
  json: string | undefined;
  jobs: number | undefined;
  access: AccessOptions;
}

interface Command {
  summary: string;
  details: string;
  /** Options beyond --site and --help, as shown in help. */
  options?: string;
  longRunning: boolean;
  /** Takes arguments after its name (tirta user add NAME). */
  takesArguments?: boolean;
  /** Its report is its standard output: the system it starts logs to standard error, warnings only unless LOG_LEVEL is set. */
  reportsOnStdout?: boolean;
  /** Resolves with the exit code when the command decides it (a failed check); otherwise 0. */
  run(services: Services, options: CommandOptions, out: Pick<Console, 'log' | 'error'>): Promise<void | number>;
}

const SIMULATOR_OPTIONS = `  --scenario FILE     play a scenario file (repeatable); see config/scenarios/
  --speed N           simulated seconds per wall second (default 1: real time)
  --seed N            seed of demand noise and synthetic complaints (default: the first scenario's)`;

const DEMO_ACCOUNTS_OPTION = `  --demo-accounts FILE  create the accounts of a demo accounts file (config/demo-accounts.yaml),
                      whose passwords are published: for demonstrations only`;

const ENVIRONMENT_HELP = `Environment:
  DATABASE_URL       PostgreSQL/TimescaleDB URL; unset: an embedded PostgreSQL in $TIRTA_DATA_DIR/postgres
  MQTT_URL           MQTT broker URL; unset: an in-process broker on 127.0.0.1
  PORT               HTTP port of the API (default 8080); HOST its address (default 127.0.0.1)
  TIRTA_DATA_DIR     where embedded services and buffers keep data (default ./data)
  TIRTA_SITE_CONFIG  the site config file when --site is not given (default config/demo-town.yaml)
  TIRTA_SIM_PORT     HTTP port of the simulator's live scenarios (default 8081)
  TIRTA_API_KEY      the API key tirta sim --complaints-to posts synthetic complaints with (tirta key add)
  TIRTA_TRUST_PROXY  true behind a TLS-terminating reverse proxy (client address and https from its headers)
  TIRTA_RETENTION_DAYS       days of telemetry kept (default 400); TIRTA_COMPRESS_AFTER_DAYS (TimescaleDB, default 7)
  TIRTA_METRICS_PORT HTTP port of the connector role's /metrics (default 9464; in 'all' the API serves /metrics)
  LOG_LEVEL          fatal, error, warn, info (default), debug, trace or silent`;

const commands: Record<string, Command> = {
  all: {
    summary: 'run everything in one process: simulated plant, connector, ingest, engine and API (default)',
    details: 'Starts the site\'s simulated PLCs on the hydraulic model, a connector polling them, telemetry ingest into the database, the engine and the HTTP API; synthetic complaints from the scenarios are posted to the API.',
    options: `${SIMULATOR_OPTIONS}\n${DEMO_ACCOUNTS_OPTION}`,
    longRunning: true,
    async run(services, options) {
      await startAllInOne(services, { ...simulatorOptions(options), demoAccounts: options.demoAccounts });
    },
  },
  sim: {
    summary: 'serve the site\'s devices as simulated PLCs (Modbus TCP, OPC UA) on the hydraulic model',
    details: 'Serves every device of the site config on its endpoint\'s port from the hydraulic model, plays scenarios (from files, and live: POST /sim/scenarios on TIRTA_SIM_PORT), and writes their ground truth and synthetic complaints as JSON lines under $TIRTA_DATA_DIR/sim.',
    options: `${SIMULATOR_OPTIONS}
  --complaints-to URL post synthetic complaints to this Tirta API (for example http://127.0.0.1:8080)`,
    longRunning: true,
    async run(services, options) {
      let complaintApi: { url: string; apiKey: string } | undefined;
      if (options.complaintsTo !== undefined) {
        if (services.env.apiKey === undefined) throw new UsageError('--complaints-to needs TIRTA_API_KEY: an API key with the operator role (tirta key add NAME --role operator)');
        complaintApi = { url: options.complaintsTo, apiKey: services.env.apiKey };
      }
      const simulator = await startSimulator(services, { ...simulatorOptions(options), complaintApi: () => complaintApi });
      await startSimulatorHttp(services, simulator, services.env.simPort);
    },
  },
  connector: {
    summary: 'poll the site\'s PLCs and publish telemetry to MQTT',
    details: 'Polls every device of the site config on its poll groups\' intervals and publishes one telemetry batch per device and cycle.',
    longRunning: true,
    async run(services) {
      await startConnector(services);
      await startMetricsServer(services, services.env.metricsPort);
    },
  },
  ingest: {
    summary: 'store telemetry from MQTT in PostgreSQL/TimescaleDB',
    details: 'Applies migrations, registers the site\'s tags, subscribes to telemetry and writes it in batches, acknowledging after commit.',
    longRunning: true,
    async run(services) {
      await startIngest(services);
    },
  },
  engine: {
    summary: 'track the state of every PLC link and connector (detection and correlation build on it)',
    details: 'Subscribes to the retained device and connector state messages and keeps each link\'s last known state in the database, for GET /api/v1/devices.',
    longRunning: true,
    async run(services) {
      await startEngine(services);
    },
  },
  api: {
    summary: 'serve the HTTP API',
    details: 'Serves the console at / and /health and /api/v1 (telemetry, complaints, incidents, work orders, crews, KPI; /api/v1/openapi.json) on HOST:PORT.',
    options: DEMO_ACCOUNTS_OPTION,
    longRunning: true,
    async run(services, options) {
      if (options.demoAccounts !== undefined) await loadDemoAccounts(await services.database(), options.demoAccounts, services.log);
      await startApi(services);
    },
  },
  user: {
    summary: 'create a person\'s account: tirta user add NAME --role ROLE [--crew CREW] [--name "Display name"]',
    details: `Roles: operator, dispatcher, crew (with --crew), engineer, admin. The password is read from the first line of standard input
(echo "$PASSWORD" | tirta user add ana --role dispatcher); from a terminal, a strong password is generated and shown once.
Passwords are stored as scrypt hashes.`,
    options: `  --role ROLE         operator, dispatcher, crew, engineer or admin
  --crew CREW         the crew of a crew member
  --name TEXT         the name shown in the console (default: the username)`,
    longRunning: false,
    takesArguments: true,
    run: (services, options) => userCommand(services, options.access),
  },
  key: {
    summary: 'create or revoke a machine\'s API key: tirta key add NAME --role ROLE [--crew CREW] | tirta key revoke NAME',
    details: 'Prints the new key once; machines send it as "Authorization: Bearer <key>". Only its SHA-256 is stored.',
    options: `  --role ROLE         operator, dispatcher, crew, engineer or admin
  --crew CREW         the crew of a crew's device (with --role crew)`,
    longRunning: false,
    takesArguments: true,
    run: (services, options) => keyCommand(services, options.access),
  },
  webhook: {
    summary: 'create a complaint channel\'s webhook token: tirta webhook add NAME --channel CHANNEL',
    details: 'Prints the token once. The channel\'s platform posts complaints to POST /api/v1/webhooks/complaints with "Authorization: Bearer <token>"; the token allows nothing else.',
    options: `  --channel CHANNEL   call_center, whatsapp, social_media, web, walk_in or sp4n_lapor`,
    longRunning: false,
    takesArguments: true,
    run: (services, options) => webhookCommand(services, options.access),
  },
  scenario: {
    summary: 'play scenario files on the whole system and check their expectations: tirta scenario run FILE... [--junit FILE] [--json FILE]',
    details: `Starts, for each file, the simulated plant, a connector, ingest, the engine and the API (in a database of its own, created
from DATABASE_URL or in the embedded PostgreSQL, and dropped afterwards; on MQTT_URL or an embedded broker), plays the scenario
in accelerated time from 09:00 on the next Monday in the site's time zone, reads incidents, work orders, complaints and
anomalies through the API and checks the file's expect: list against them. Exits 1 when any expectation is not met.
Expectations: src/contracts/scenario-expectations.ts; examples in config/scenarios/burst-dma-2.yaml and sensor-faults.yaml.
The system's own logs go to standard error at LOG_LEVEL (default warn).`,
    options: `  --speed N           simulated seconds per wall second (default 60)
  --seed N            seed of every file's run (default: each file's own seed)
  --jobs N            files played at the same time (default 1)
  --junit FILE        write a JUnit XML report: a test suite per file, a test case per expectation
  --json FILE         write a JSON report of every verdict with what was expected and what happened`,
    longRunning: false,
    takesArguments: true,
    reportsOnStdout: true,
    run: (services, options, out) => scenarioCommand(services, { arguments: options.access.arguments, speed: options.speed, seed: options.seed, junit: options.junit, json: options.json, jobs: options.jobs }, out),
  },
  migrate: {
    summary: 'apply database migrations and exit',
    details: 'Applies migrations/NNN_name.sql in order, each once, in a transaction, under an advisory lock. TimescaleDB variants are used where the extension is available.',
    longRunning: false,
    async run(services) {
      await services.database();
    },
  },
  retention: {
    summary: 'apply the telemetry retention now and exit',
    details: 'On plain PostgreSQL, deletes telemetry older than TIRTA_RETENTION_DAYS in batches (run it from cron, or let the ingest role run it hourly); on TimescaleDB, sets the retention and compression policies from TIRTA_RETENTION_DAYS and TIRTA_COMPRESS_AFTER_DAYS.',
    longRunning: false,
    async run(services) {
      const pool = await services.database();
      if (services.flavour === 'postgres') {
        const deleted = await pruneTelemetry(pool, services.env.retention.retentionDays, Date.now());
        services.log.info({ deleted, retentionDays: services.env.retention.retentionDays }, 'retention applied');
      } else {
        services.log.info(services.env.retention, 'retention and compression policies set');
      }
    },
  },
  replay: {
    summary: 'run the engine offline over recorded telemetry and complaints',
    details: `Runs the same detectors and correlation as the live engine over a telemetry CSV and a complaints JSONL file, on the data's own timestamps, and writes the anomalies, incidents and work orders as JSON. The same inputs give the same output. Needs no database or broker.
Telemetry CSV, long form:  time,tag,value[,quality]   (quality good|uncertain|bad or 0|1|2)
               wide form:  time,<tag>,<tag>,...       (one row per time; an empty cell is no sample)
Times are ISO 8601 with a zone (2026-01-01T07:00:00+07:00) or epoch milliseconds. Complaints: one JSON object per line, the body of POST /api/v1/complaints with "id" and "reported_at"; addresses and accounts are placed by the site file's streets and inline accounts.`,
    options: `  --telemetry FILE    recorded telemetry, CSV (required)
  --complaints FILE   recorded complaints, JSON lines
  --out FILE          where to write the result (default: standard output)`,
    longRunning: false,
    async run(services, options) {
      if (options.telemetry === undefined) throw new UsageError('tirta replay needs --telemetry FILE');
      const startedAt = Date.now();
      let lastReport = 0;
      const result = await runReplay({
        site: services.site,
        telemetryFile: options.telemetry,
        ...(options.complaints === undefined ? {} : { complaintsFile: options.complaints }),
        onProgress: (progress) => {
          const now = Date.now();
          if (progress.phase !== 'done' && now - lastReport < 1000) return;
          lastReport = now;
          process.stderr.write(`${replayProgressLine(progress, now - startedAt)}\n`);
        },
      });
      for (const [tag, samples] of Object.entries(result.unknownTags)) services.log.warn({ tag, samples }, 'samples of a tag the site does not know were skipped');
      if (options.out === undefined) process.stdout.write(`${JSON.stringify({ anomalies: result.anomalies, incidents: result.incidents, work_orders: result.work_orders }, null, 2)}\n`);
      else await writeReplayOutput(options.out, result);
    },
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((name) => name.length));
  return `Usage: tirta [command] [--site FILE]

Tirta: operations service for water utilities.

Commands:
${Object.entries(commands)
  .map(([name, command]) => `  ${name.padEnd(width)}  ${command.summary}`)
  .join('\n')}

Options:
  --site FILE  site configuration (YAML or JSON)
  --help       show help for a command: tirta <command> --help

${ENVIRONMENT_HELP}

Exit codes: 0 ok, 1 runtime failure, 2 bad usage or bad configuration.`;
}

function simulatorOptions(options: CommandOptions) {
  return {
    scenarioFiles: options.scenarios,
    ...(options.speed === undefined ? {} : { speed: options.speed }),
    ...(options.seed === undefined ? {} : { seed: options.seed }),
  };
}

function commandUsage(name: string, command: Command): string {
  return `Usage: tirta ${name} [--site FILE]${command.options ? ' [options]' : ''}

${command.summary}.
${command.details}

Options:
  --site FILE         site configuration (YAML or JSON)
${command.options ? `${command.options}\n` : ''}  --help              show this help

${ENVIRONMENT_HELP}`;
}

export async function main(argv: readonly string[], out: Pick<Console, 'log' | 'error'> = console): Promise<number> {
  let log: Logger | undefined;
  try {
    const { values, positionals } = parseCommandLine(argv);
    const name = positionals[0] ?? 'all';
    const command = commands[name];
    if (command === undefined) throw new UsageError(`unknown command "${name}"\n\n${usage()}`);
    if (positionals.length > 1 && !command.takesArguments) throw new UsageError(`unexpected argument "${positionals[1]}"`);
    if (values.help) {
      out.log(positionals.length === 0 ? usage() : commandUsage(name, command));
      return EXIT_OK;
    }
    const commandOptions = readCommandOptions(name, command, values, positionals.slice(1));
    const env = readEnvironment();
    log = (command.reportsOnStdout ? createLogger({ level: process.env.LOG_LEVEL || 'warn', destination: process.stderr }) : createLogger({ level: env.logLevel })).child({ role: name });
    const site = await loadSiteConfig(values.site ?? env.siteConfigFile);
    const lifecycle = new Lifecycle(log);
    const services = new Services(env, site, log, lifecycle);
    const signal = lifecycle.waitForSignal();
    try {
      const code = await Promise.race([command.run(services, commandOptions, out), signal.then((received) => Promise.reject(new Interrupted(received)))]);
      if (typeof code === 'number' && code !== EXIT_OK) {
        await lifecycle.stop();
        return code;
      }
    } catch (error) {
      await lifecycle.stop();
      if (error instanceof Interrupted) return EXIT_OK;
      throw error;
    }
    if (command.longRunning) {
      const received = await signal;
      log.info({ signal: received }, 'shutting down');
    }
    return (await lifecycle.stop()) ? EXIT_OK : EXIT_FAILURE;
  } catch (error) {
    if (error instanceof UsageError || error instanceof ConfigError) {
      out.error(`tirta: ${error.message}`);
      return EXIT_USAGE;
    }
    if (log !== undefined) log.fatal({ err: error }, 'failed');
    out.error(`tirta: ${(error as Error).message}`);
    return EXIT_FAILURE;
  }
}

function replayProgressLine(progress: ReplayProgress, elapsedMs: number): string {
  const seconds = (elapsedMs / 1000).toFixed(1);
  if (progress.phase === 'reading') return `replay: reading telemetry, ${progress.done.toLocaleString('en-US')} lines (${seconds} s)`;
  const percent = progress.total === 0 ? 100 : Math.floor((progress.done / progress.total) * 100);
  return `replay: ${progress.phase === 'done' ? 'done' : `${percent}%`}, ${progress.done.toLocaleString('en-US')} of ${progress.total.toLocaleString('en-US')} samples, ${progress.anomalies} anomalies, ${progress.incidents} incidents (${seconds} s)`;
}

class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
  }
}

function readCommandOptions(name: string, command: Command, values: ReturnType<typeof parseCommandLine>['values'], commandArguments: string[]): CommandOptions {
  const given = (['scenario', 'speed', 'seed', 'complaints-to', 'telemetry', 'complaints', 'out', 'demo-accounts', 'role', 'crew', 'name', 'channel', 'junit', 'json', 'jobs'] as const).filter((option) => values[option] !== undefined);
  for (const option of given) {
    if (!command.options?.includes(`--${option} `)) throw new UsageError(`tirta ${name} does not take --${option}`);
  }
  const number = (option: 'speed' | 'seed' | 'jobs', value: string | undefined, check: (n: number) => boolean, rule: string) => {
    if (value === undefined) return undefined;
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || !check(parsed)) throw new UsageError(`--${option} ${value}: must be ${rule}`);
    return parsed;
  };
  const complaintsTo = values['complaints-to'];
  if (complaintsTo !== undefined && !/^https?:\/\/[^/]+$/.test(complaintsTo)) throw new UsageError(`--complaints-to ${complaintsTo}: must be an http(s)://HOST[:PORT] URL`);
  return {
    telemetry: values.telemetry,
    complaints: values.complaints,
    out: values.out,
    scenarios: values.scenario ?? [],
    speed: number('speed', values.speed, (n) => n > 0 && n <= 3600, 'a number above 0 and at most 3600'),
    seed: number('seed', values.seed, (n) => Number.isInteger(n) && n >= 0 && n < 2 ** 32, 'a whole number from 0 to 4294967295'),
    complaintsTo,
    demoAccounts: values['demo-accounts'],
    junit: values.junit,
    json: values.json,
    jobs: number('jobs', values.jobs, (n) => Number.isInteger(n) && n >= 1 && n <= 16, 'a whole number from 1 to 16'),
    access: { arguments: commandArguments, role: values.role, crew: values.crew, name: values.name, channel: values.channel },
  };
}

function parseCommandLine(argv: readonly string[]) {
  try {
    return parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        site: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
        scenario: { type: 'string', multiple: true },
        speed: { type: 'string' },
        seed: { type: 'string' },
        'complaints-to': { type: 'string' },
        telemetry: { type: 'string' },
        complaints: { type: 'string' },
        out: { type: 'string' },
        'demo-accounts': { type: 'string' },
        role: { type: 'string' },
        crew: { type: 'string' },
        name: { type: 'string' },
        channel: { type: 'string' },
        junit: { type: 'string' },
        json: { type: 'string' },
        jobs: { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
