// `tirta scenario run`: plays scenario files on the whole system and checks their expectations.
// Each file gets a system of its own, started the way `tirta all` starts one (simulated plant,
// connector, broker, ingest, engine, API), in a database of its own and under a site id of its
// own, so runs neither collide with each other nor with anything else on the same PostgreSQL
// and broker. The runner reads the system only through its HTTP API, with an engineer's key.
//
// Simulated time starts on the Monday after the run at 09:00 in the site's time zone, so every
// run of a file sees the same demand pattern and the same crews on shift; with the same seed the
// plant, its faults and its customers' complaints are the same, and so is the verdict.
import { randomBytes } from 'node:crypto';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { createApiKey } from '../access/accounts.js';
import type { RuntimeEnvironment } from '../config/environment.js';
import type { Scenario } from '../contracts/scenario.js';
import type { SiteConfig } from '../contracts/site.js';
import { ConfigError, type ConfigIssue } from '../errors.js';
import type { Logger } from '../log.js';
import { startAllInOne } from '../runtime/all-in-one.js';
import { startEmbeddedBroker, startEmbeddedPostgres, freePort } from '../runtime/embedded-services.js';
import { Lifecycle } from '../runtime/lifecycle.js';
import { Services } from '../runtime/roles.js';
import { loadScenarioFile } from '../runtime/simulator.js';
import { secondsSinceLocalMonday } from '../../simulators/plant/hydraulic-plant.js';
import { ApiReader, type Reading } from './api-readings.js';
import { checkExpectation, type ScenarioComplaint, type ScenarioEventTiming } from './expectation-checks.js';
import { runStatus, type ScenarioRunResult } from './results.js';

export const DEFAULT_SPEED = 60;
/** Wall time between readings of the API. */
const READING_INTERVAL_MS = 500;
/** Wall time the pipeline (a poll, ingest, the engine, a reading) needs to bring a change to the API. */
const PIPELINE_LAG_WALL_S = 2;
/** Wall time a run may take beyond its simulated length at its speed before it is given up. */
const RUN_TIMEOUT_SLACK_MS = 120_000;

export interface ScenarioRunOptions {
  files: readonly string[];
  /** Simulated seconds per wall second. */
  speed: number;
  /** Overrides each file's seed. */
  seed?: number | undefined;
  /** Files played at the same time. */
  jobs: number;
}

export interface ScenarioRunnerContext {
  env: RuntimeEnvironment;
  site: SiteConfig;
  log: Logger;
  /** Where the runner's own shared services (an embedded database or broker) are stopped. */
  lifecycle: Lifecycle;
}

export type ProgressEvent =
  | { type: 'started'; file: string; scenario: string; seed: number; speed: number; simulatedS: number }
  | { type: 'progress'; file: string; scenario: string; atS: number; simulatedS: number; incidents: number; workOrders: number }
  | { type: 'finished'; result: ScenarioRunResult };

/** Loads every file and checks its expectations against the site before anything starts: a bad file is a ConfigError (exit 2). */
export async function loadScenarioFiles(files: readonly string[], site: SiteConfig): Promise<Array<{ file: string; scenario: Scenario }>> {
  const loaded = [];
  for (const file of files) {
    const scenario = await loadScenarioFile(file);
    const issues: ConfigIssue[] = [];
    if (scenario.expect.length === 0) issues.push({ path: 'expect', message: 'has no expectations: add an expect: list for tirta scenario run to check (see README, "Scenario checks in your CI")' });
    const zones = new Set(site.zones.map((zone) => zone.id));
    scenario.expect.forEach((expectation, index) => {
      if ('zone' in expectation && expectation.zone !== undefined && !zones.has(expectation.zone)) {
        issues.push({ path: `expect[${index}].zone`, message: `unknown zone "${expectation.zone}" in the site config (zones: ${[...zones].join(', ')})` });
      }
    });
    if (issues.length > 0) throw new ConfigError(file, issues);
    loaded.push({ file, scenario });
  }
  return loaded;
}

export async function runScenarioFiles(context: ScenarioRunnerContext, options: ScenarioRunOptions, onProgress: (event: ProgressEvent) => void): Promise<ScenarioRunResult[]> {
  const scenarios = await loadScenarioFiles(options.files, context.site);
  const shared = await sharedServices(context);
  const results: ScenarioRunResult[] = new Array(scenarios.length);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < scenarios.length; index = next++) {
      const { file, scenario } = scenarios[index]!;
      results[index] = await runScenario(context, shared, file, scenario, options, onProgress);
      onProgress({ type: 'finished', result: results[index]! });
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(options.jobs, scenarios.length)) }, worker));
  return results;
}

interface SharedServices {
  /** A URL to a database whose user may create databases. */
  adminUrl: string;
  mqttUrl: string;
}

async function sharedServices(context: ScenarioRunnerContext): Promise<SharedServices> {
  let adminUrl = context.env.databaseUrl;
  if (adminUrl === undefined) {
    const embedded = await startEmbeddedPostgres(context.env.dataDir, context.log.child({ component: 'embedded-postgres' }));
    context.lifecycle.add('embedded PostgreSQL', embedded.stop);
    adminUrl = embedded.url;
  }
  let mqttUrl = context.env.mqttUrl;
  if (mqttUrl === undefined) {
    const broker = await startEmbeddedBroker(context.log.child({ component: 'embedded-broker' }));
    context.lifecycle.add('embedded MQTT broker', broker.stop);
    mqttUrl = broker.url;
  }
  return { adminUrl, mqttUrl };
}

/** A database of the run's own, dropped when it ends. */
async function createRunDatabase(adminUrl: string, token: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `tirta_scenario_${token}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } catch (cause) {
    throw new Error(`cannot create the run's database ${name} (the DATABASE_URL user needs the CREATEDB privilege): ${(cause as Error).message}`, { cause });
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const cleanup = new pg.Client({ connectionString: adminUrl });
      await cleanup.connect();
      try {
        await cleanup.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await cleanup.end();
      }
    },
  };
}

/** The site under a run's own id (its MQTT topics are its own) with its simulated PLCs on free local ports. */
async function siteForRun(site: SiteConfig, token: string): Promise<SiteConfig> {
  const devices = [];
  for (const device of site.devices) {
    const endpoint = new URL(device.endpoint);
    devices.push({ ...device, endpoint: `${endpoint.protocol}//127.0.0.1:${await freePort()}` });
  }
  return { ...site, site: { ...site.site, id: `${site.site.id.slice(0, 40)}-run-${token}` }, devices };
}

/** 09:00 on the Monday after `nowMs`, in the time zone. */
export function nextMondayMorningMs(nowMs: number, timeZone: string): number {
  const mondayMidnightMs = Math.floor(nowMs / 1000) * 1000 - secondsSinceLocalMonday(nowMs, timeZone) * 1000;
  return mondayMidnightMs + 7 * 86_400_000 + 9 * 3_600_000;
}

function eventTimings(scenario: Scenario, site: SiteConfig): Map<string, ScenarioEventTiming> {
  return new Map(
    scenario.events.map((event) => {
      const tags = event.kind === 'sensor_fault' ? [event.tag] : event.kind === 'plc_offline' ? site.tags.filter((tag) => tag.device === event.device).map((tag) => tag.id) : [];
      return [event.id, { kind: event.kind, startS: event.atS, endS: event.durationS === null ? null : event.atS + event.durationS, tags }];
    }),
  );
}

async function runScenario(
  context: ScenarioRunnerContext,
  shared: SharedServices,
  file: string,
  scenario: Scenario,
  options: ScenarioRunOptions,
  onProgress: (event: ProgressEvent) => void,
): Promise<ScenarioRunResult> {
  const startedWallMs = Date.now();
  const seed = options.seed ?? scenario.seed ?? 1;
  const events = eventTimings(scenario, context.site);
  const deadlineS = Math.max(...scenario.expect.map((expectation) => (expectation.after === null ? 0 : events.get(expectation.after)!.startS) + expectation.withinS));
  const lagS = PIPELINE_LAG_WALL_S * options.speed;
  const simulatedS = deadlineS + lagS;
  const token = randomBytes(4).toString('hex');
  const log = context.log.child({ scenario: scenario.id, run: token });
  const base: Omit<ScenarioRunResult, 'status' | 'expectations'> = { file, scenario: scenario.id, seed, speed: options.speed, simulatedStart: null, simulatedS, wallMs: 0 };
  onProgress({ type: 'started', file, scenario: scenario.id, seed, speed: options.speed, simulatedS });

  const dataDir = path.join(context.env.dataDir, 'scenario-runs', `${scenario.id}-${token}`);
  const lifecycle = new Lifecycle(log);
  let database: { url: string; drop(): Promise<void> } | undefined;
  try {
    database = await createRunDatabase(shared.adminUrl, token);
    const site = await siteForRun(context.site, token);
    const env: RuntimeEnvironment = { ...context.env, databaseUrl: database.url, mqttUrl: shared.mqttUrl, port: 0, simPort: 0, metricsPort: 0, dataDir, instanceId: `scenario-run-${token}`, ingestShared: false };
    const services = new Services(env, site, log, lifecycle);
    const startEpochMs = nextMondayMorningMs(Date.now(), site.site.timezone);
    base.simulatedStart = new Date(startEpochMs).toISOString();
    const { simulator, apiUrl } = await startAllInOne(services, { scenarioFiles: [file], speed: options.speed, seed, startEpochMs });
    const clock = simulator.plant.clock;
    const apiKey = await createApiKey(await services.database(), { name: `scenario-run-${token}`, role: 'engineer' });
    const api = new ApiReader(apiUrl, apiKey);

    const readings: Reading[] = [];
    const giveUpAtMs = Date.now() + (simulatedS / options.speed) * 1000 + RUN_TIMEOUT_SLACK_MS;
    let lastProgressMs = 0;
    while (clock.simTimeS() < simulatedS) {
      if (Date.now() > giveUpAtMs) throw new Error(`the run did not reach ${simulatedS} simulated seconds in time (at ${Math.round(clock.simTimeS())} s)`);
      const queue = await api.queue();
      const reading = { atS: clock.simTimeS(), ...queue };
      readings.push(reading);
      if (Date.now() - lastProgressMs >= 5000) {
        lastProgressMs = Date.now();
        onProgress({ type: 'progress', file, scenario: scenario.id, atS: reading.atS, simulatedS, incidents: queue.incidents.length, workOrders: queue.workOrders.length });
      }
      await new Promise((resolve) => setTimeout(resolve, READING_INTERVAL_MS));
    }
    const final = await api.final(() => clock.simTimeS(), new Date(startEpochMs - 3_600_000).toISOString(), new Date(clock.now() + 3_600_000).toISOString());
    const scenarioComplaints = await readScenarioComplaints(simulator.complaintsFile, scenario.id);
    const expectations = scenario.expect.map((expectation) =>
      checkExpectation(expectation, { startEpochMs, lagS, runEndS: simulatedS, events, readings, final, scenarioComplaints }),
    );
    return { ...base, status: runStatus(expectations), expectations, wallMs: Date.now() - startedWallMs };
  } catch (error) {
    log.error({ err: error }, 'scenario run failed');
    return { ...base, status: 'error', expectations: [], error: (error as Error).message, wallMs: Date.now() - startedWallMs };
  } finally {
    await lifecycle.stop();
    await database?.drop().catch((error: unknown) => log.warn({ err: error }, 'cannot drop the run\'s database'));
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** The complaints the simulated customers made about this scenario: the simulator's ground truth. */
async function readScenarioComplaints(file: string, scenarioId: string): Promise<ScenarioComplaint[]> {
  const text = await readFile(file, 'utf8').catch(() => '');
  return text
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as { external_id: string; reported_at: string; scenario_id: string | null })
    .filter((complaint) => complaint.scenario_id === scenarioId)
    .map(({ external_id, reported_at }) => ({ external_id, reported_at }));
}
