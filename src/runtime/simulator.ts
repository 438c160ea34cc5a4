// The simulator role: the hydraulic model behind simulated PLCs (Modbus TCP and OPC UA servers,
// one per device of the site), scenarios played into it from files and live over HTTP, their
// ground truth and the synthetic complaints they cause written as JSON lines, and, when an API
// is running, those complaints posted to it as a complaint channel would.
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import express from 'express';
import type { Server } from 'node:http';
import { parseScenario, type Scenario } from '../contracts/scenario.js';
import type { ModbusDevice } from '../contracts/site.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { ModbusPlantServer } from '../../simulators/modbus/modbus-plant-server.js';
import { OpcuaPlantServer } from '../../simulators/opcua/opcua-plant-server.js';
import { HydraulicPlant } from '../../simulators/plant/hydraulic-plant.js';
import { ComplaintGenerator, observeEachInterval, toComplaintBody, type SyntheticComplaint } from '../../simulators/scenarios/complaint-generator.js';
import { JsonLinesFileSink, type GroundTruthRecord, type RecordSink } from '../../simulators/scenarios/ground-truth.js';
import { ScenarioPlayer } from '../../simulators/scenarios/scenario-player.js';
import type { Services } from './roles.js';

export interface SimulatorOptions {
  /** Simulated seconds per wall second (default 1: real time). */
  speed?: number;
  /** Seed of demand noise and synthetic complaints; default the first scenario's, else 1. */
  seed?: number;
  scenarioFiles?: readonly string[];
  /** Simulated epoch (ms) at simulated time 0; default now. */
  startEpochMs?: number;
  /** false: the simulated clock waits for `plant.start()`, so that scenarios start once the rest of the system is up. */
  startClock?: boolean;
  /** Where synthetic complaints are posted, with the API key to post them with; undefined: not posted. */
  complaintApi?: () => ComplaintApi | undefined;
}

export interface SimulatorHandle {
  plant: HydraulicPlant;
  player: ScenarioPlayer;
  servers: ModbusPlantServer[];
  opcuaServers: OpcuaPlantServer[];
  groundTruthFile: string;
  complaintsFile: string;
  /** Loads and starts a scenario now; throws ConfigError when it does not fit the plant. */
  addScenario(scenario: Scenario, source: string): void;
  /** Resolves once every complaint handed to the API so far has been posted (or given up on). */
  complaintsPosted(): Promise<void>;
}

export async function loadScenarioFile(file: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(file, [{ path: '', message: (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (cause as Error).message }], { cause });
  }
  return parseScenario(text, file);
}

export async function startSimulator(services: Services, options: SimulatorOptions = {}): Promise<SimulatorHandle> {
  const { site, log, lifecycle, env } = services;
  const scenarios = await Promise.all((options.scenarioFiles ?? []).map(async (file) => ({ file, scenario: await loadScenarioFile(file) })));
  const seed = options.seed ?? scenarios[0]?.scenario.seed ?? 1;
  const plant = await HydraulicPlant.open(site, { seed, ...(options.speed === undefined ? {} : { speed: options.speed }), ...(options.startEpochMs === undefined ? {} : { startEpochMs: options.startEpochMs }) });
  lifecycle.add('hydraulic model', async () => plant.stop());

  const servers: ModbusPlantServer[] = [];
  const opcuaServers: OpcuaPlantServer[] = [];
  const links = new Map<string, { stop(): Promise<void>; start(): Promise<void> }>();
  for (const device of site.devices) {
    if (device.protocol === 'opcua') {
      let server: OpcuaPlantServer;
      const open = async (port?: number) => {
        server = new OpcuaPlantServer({
          siteId: site.site.id,
          device,
          tags: site.tags,
          source: plant,
          pkiFolder: path.join(env.dataDir, 'pki', 'simulator'),
          clock: () => new Date(plant.clock.now()),
          ...(port === undefined ? {} : { port }),
          onWriteError: (tagId, error) => log.warn({ err: error, device: device.id, tag: tagId }, 'OPC UA write refused by the plant'),
        });
        await server.start();
        server.update(new Date(plant.clock.now()));
        opcuaServers.splice(0, opcuaServers.length, ...opcuaServers.filter((other) => other.deviceId !== device.id), server);
      };
      await open();
      log.info({ device: device.id, endpoint: server!.endpointUrl }, 'simulated OPC UA server listening');
      // A PLC coming back online is a new server on the same port.
      links.set(device.id, { stop: () => server.stop(), start: () => open(server.port) });
      lifecycle.add(`simulated OPC UA server ${device.id}`, () => server.stop());
    }
  }
  // Devices sharing an endpoint are units behind one gateway: one server answers for all of them.
  const modbusByEndpoint = new Map<string, ModbusDevice[]>();
  for (const device of site.devices) {
    if (device.protocol === 'modbus') modbusByEndpoint.set(device.endpoint, [...(modbusByEndpoint.get(device.endpoint) ?? []), device]);
  }
  for (const devices of modbusByEndpoint.values()) {
    const server = new ModbusPlantServer({ devices, tags: site.tags, source: plant });
    await server.start();
    for (const device of devices) {
      // A lone PLC going offline stops answering its port; a unit behind a gateway answers 0B.
      links.set(
        device.id,
        devices.length === 1
          ? { stop: () => server.stop(), start: () => server.start() }
          : {
              stop: async () => void (server.unit(device.id).offline = true),
              start: async () => void (server.unit(device.id).offline = false),
            },
      );
    }
    lifecycle.add(`simulated PLC ${devices[0]!.endpoint}`, () => server.stop());
    log.info({ devices: server.deviceIds, port: server.port }, 'simulated Modbus PLC listening');
    servers.push(server);
  }
  // OPC UA variables are pushed to subscribers: refresh them as simulated time advances.
  plant.onAfterAdvance(() => {
    for (const server of opcuaServers) server.update(new Date(plant.clock.now()));
  });

  const simDir = path.join(env.dataDir, 'sim');
  const groundTruthFile = path.join(simDir, 'ground-truth.jsonl');
  const complaintsFile = path.join(simDir, 'complaints.jsonl');
  const groundTruth = new JsonLinesFileSink<GroundTruthRecord>(groundTruthFile);
  const player = new ScenarioPlayer({
    plant,
    site,
    groundTruth: {
      write(record) {
        groundTruth.write(record);
        log.info({ scenario: record.scenario, event: record.event, kind: record.kind, zone: record.zone, start: record.start, end: record.end }, 'scenario event');
      },
    },
    plcLinks: {
      async setOffline(deviceId, offline) {
        const link = links.get(deviceId)!;
        log.info({ device: deviceId, offline }, offline ? 'simulated PLC going offline' : 'simulated PLC back online');
        await (offline ? link.stop() : link.start());
      },
    },
    onPortError: (error, context) => log.error({ err: error, ...context }, 'cannot change the simulated PLC link'),
  });
  player.attach();
  const complaintFile = new JsonLinesFileSink<SyntheticComplaint>(complaintsFile);
  const poster = new ComplaintPoster(options.complaintApi ?? (() => undefined), log);
  const generator = new ComplaintGenerator({
    model: plant.model,
    site,
    seed,
    incidents: player,
    ...(scenarios[0] === undefined ? {} : { settings: scenarios[0].scenario.complaints }),
    // Each run its own ids: the API de-duplicates on (channel, external_id).
    idPrefix: `sim-${seed}-${plant.clock.startEpochMs}`,
    sink: {
      write(record) {
        complaintFile.write(record);
        poster.post(record);
      },
    },
  });
  observeEachInterval(plant, generator);
  const addScenario = (scenario: Scenario, source: string) => {
    player.add(scenario, { source });
    log.info({ scenario: scenario.id, source, events: scenario.events.length }, 'scenario started');
  };
  for (const { file, scenario } of scenarios) addScenario(scenario, file);
  lifecycle.add('scenarios', async () => {
    player.stopAll();
    await player.settled();
    await poster.drain();
    groundTruth.close();
    complaintFile.close();
  });
  if (options.startClock !== false) plant.start();
  log.info({ speed: options.speed ?? 1, seed, groundTruthFile, complaintsFile }, 'hydraulic model running');
  return { plant, player, servers, opcuaServers, groundTruthFile, complaintsFile, addScenario, complaintsPosted: () => poster.drain() };
}

export interface ComplaintApi {
  url: string;
  apiKey: string;
}

/** Posts synthetic complaints to the API one at a time, in order, as a complaint channel would. */
class ComplaintPoster {
  private chain: Promise<void> = Promise.resolve();
  posted = 0;

  constructor(
    private readonly api: () => ComplaintApi | undefined,
    private readonly log: Logger,
  ) {}

  post(record: SyntheticComplaint): void {
    const api = this.api();
    if (api === undefined) return;
    this.chain = this.chain.then(async () => {
      for (let attempt = 1; attempt <= 3; attempt++) {
        try {
          const response = await fetch(`${api.url}/api/v1/complaints`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${api.apiKey}`, 'idempotency-key': record.external_id ?? `${record.reported_at}-${this.posted}` },
            body: JSON.stringify(toComplaintBody(record)),
          });
          if (response.status < 300) {
            this.posted += 1;
            return;
          }
          this.log.warn({ status: response.status, body: await response.text(), externalId: record.external_id }, 'synthetic complaint refused by the API');
          return;
        } catch (error) {
          if (attempt === 3) this.log.warn({ err: error, externalId: record.external_id }, 'cannot post synthetic complaint');
          else await new Promise((resolve) => setTimeout(resolve, 500 * attempt));
        }
      }
    });
  }

  drain(): Promise<void> {
    return this.chain;
  }
}

/** Live scenarios over HTTP: POST /sim/scenarios (YAML or JSON), GET /sim/scenarios, DELETE /sim/scenarios/{id}. */
export async function startSimulatorHttp(services: Services, simulator: SimulatorHandle, port: number): Promise<string> {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.text({ type: ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/plain'], limit: '256kb' }));
  app.use(express.json({ limit: '256kb' }));
  app.get('/sim/scenarios', (_request, response) => {
    response.json({ running: simulator.player.running(), events: simulator.player.activeEvents() });
  });
  app.post('/sim/scenarios', (request, response) => {
    const text = typeof request.body === 'string' ? request.body : JSON.stringify(request.body ?? null);
    try {
      const scenario = parseScenario(text, 'request body');
      if (simulator.player.running().includes(scenario.id)) {
        response.status(409).json({ error: 'conflict', message: `scenario "${scenario.id}" is already running` });
        return;
      }
      simulator.addScenario(scenario, 'HTTP');
      response.status(201).json({ id: scenario.id, events: scenario.events.map((event) => ({ id: event.id, kind: event.kind, at_s: event.atS, duration_s: event.durationS })) });
    } catch (error) {
      if (error instanceof ConfigError) {
        response.status(400).json({ error: 'validation_failed', message: error.message, issues: error.issues.map((issue) => ({ field: issue.path, message: issue.message })) });
        return;
      }
      throw error;
    }
  });
  app.delete('/sim/scenarios/:id', (request, response) => {
    if (!simulator.player.running().includes(request.params.id)) {
      response.status(404).json({ error: 'not_found', message: `no running scenario "${request.params.id}"` });
      return;
    }
    simulator.player.stop(request.params.id);
    response.status(204).end();
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(port, services.env.host, (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  services.lifecycle.add('simulator http', () => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = server.address();
  const url = `http://${services.env.host}:${typeof address === 'object' && address !== null ? address.port : port}`;
  services.log.info({ url }, `simulator scenarios at ${url}/sim/scenarios`);
  return url;
}
