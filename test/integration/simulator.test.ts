// The simulator role as the runtime wires it: scenarios from files and over HTTP, ground truth
// and synthetic complaints as JSON lines, complaints posted to an API, PLCs going offline.
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import express from 'express';
import { ModbusClient } from '../../connectors/modbus/modbus-client.js';
import type { RuntimeEnvironment } from '../../src/config/environment.js';
import { complaintBodySchema } from '../../src/contracts/complaint.js';
import { silentLogger } from '../../src/log.js';
import { freePort } from '../../src/runtime/embedded-services.js';
import { Lifecycle } from '../../src/runtime/lifecycle.js';
import { Services } from '../../src/runtime/roles.js';
import { startSimulator, startSimulatorHttp, type SimulatorHandle } from '../../src/runtime/simulator.js';
import { waitFor } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

const jsonLines = async (file: string) =>
  (await readFile(file, 'utf8').catch(() => ''))
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

describe('simulator role', function () {
  this.timeout(60_000);
  let dataDir: string;
  let lifecycle: Lifecycle;
  let simulator: SimulatorHandle;
  let simUrl: string;
  let intake: Server;
  const received: Array<{ body: unknown; idempotencyKey: string | undefined; authorization: string | undefined }> = [];

  before(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'tirta-sim-'));
    // A stand-in complaint API on loopback: the simulator posts to it over real HTTP.
    const app = express().use(express.json());
    app.post('/api/v1/complaints', (request, response) => {
      received.push({ body: request.body, idempotencyKey: request.get('idempotency-key'), authorization: request.get('authorization') });
      response.status(201).json({ id: String(received.length) });
    });
    intake = await new Promise<Server>((resolve) => {
      const server = app.listen(0, '127.0.0.1', () => resolve(server));
    });
    const intakeUrl = `http://127.0.0.1:${(intake.address() as { port: number }).port}`;
    const env: RuntimeEnvironment = { databaseUrl: undefined, mqttUrl: undefined, port: 0, host: '127.0.0.1', dataDir, simPort: 0, metricsPort: 0, instanceId: 'test', retention: { retentionDays: 400, compressAfterDays: 7 }, siteConfigFile: '', logLevel: 'silent' };
    lifecycle = new Lifecycle(silentLogger);
    const services = new Services(env, await demoSiteOnFreePorts(), silentLogger, lifecycle);
    // 600x: ten simulated minutes per wall second.
    simulator = await startSimulator(services, { speed: 600, scenarioFiles: ['config/scenarios/burst-dma-2.yaml'], complaintApi: () => ({ url: intakeUrl, apiKey: 'tirta_key_simulated' }) });
    simUrl = await startSimulatorHttp(services, simulator, await freePort());
  });

  after(async () => {
    await lifecycle?.stop();
    intake?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('plays a scenario file and writes its ground truth', async () => {
    const records = await waitFor('the burst in the ground truth', async () => {
      const lines = await jsonLines(simulator.groundTruthFile);
      return lines.some((line) => line.kind === 'burst') ? lines : undefined;
    });
    const burst = records.find((line) => line.kind === 'burst')!;
    expect(burst).to.include({ scenario: 'burst-dma-2', zone: 'dma-2' });
    expect(burst.where).to.deep.include({ junction: 'J-D2-020' });
  });

  it('writes synthetic complaints for the burst, and posts each to the complaint API', async () => {
    const complaints = await waitFor('complaints about the burst', async () => {
      const lines = await jsonLines(simulator.complaintsFile);
      return lines.filter((line) => line.scenario_id === 'burst-dma-2').length >= 3 ? lines : undefined;
    }, 30_000);
    const ofBurst = complaints.filter((line) => line.scenario_id === 'burst-dma-2');
    expect(ofBurst.filter((line) => ['no_water', 'low_pressure', 'leak_burst'].includes(line.category as string)).length).to.equal(ofBurst.length);
    await waitFor('posts to the API', async () => (received.length >= complaints.length ? true : undefined));
    for (const post of received) expect(complaintBodySchema.safeParse(post.body).success, JSON.stringify(post.body)).to.equal(true);
    expect(received[0]!.idempotencyKey).to.equal(complaints[0]!.external_id);
    expect(received[0]!.authorization).to.equal('Bearer tirta_key_simulated');
  });

  it('takes a live scenario over HTTP, lists it and stops it', async () => {
    const scenario = 'id: live-surge\nevents:\n  - { kind: demand_surge, at: 0s, zone: dma-3, factor: 1.8 }\n';
    const created = await fetch(`${simUrl}/sim/scenarios`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: scenario });
    expect(created.status).to.equal(201);
    expect(((await created.json()) as { id: string }).id).to.equal('live-surge');
    const again = await fetch(`${simUrl}/sim/scenarios`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: scenario });
    expect(again.status).to.equal(409);
    const listed = (await (await fetch(`${simUrl}/sim/scenarios`)).json()) as { running: string[] };
    expect(listed.running).to.include('live-surge');
    const stopped = await fetch(`${simUrl}/sim/scenarios/live-surge`, { method: 'DELETE' });
    expect(stopped.status).to.equal(204);
    expect(((await (await fetch(`${simUrl}/sim/scenarios`)).json()) as { running: string[] }).running).to.not.include('live-surge');
  });

  it('answers 400 naming the bad field of a live scenario, JSON or YAML', async () => {
    const bad = await fetch(`${simUrl}/sim/scenarios`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'bad', events: [{ kind: 'burst', at: '1m', junction: 'J-NOWHERE', coefficient: 10 }] }),
    });
    expect(bad.status).to.equal(400);
    const body = (await bad.json()) as { issues: Array<{ field: string; message: string }> };
    expect(body.issues.map((issue) => issue.field)).to.deep.equal(['events[0].junction']);
  });

  it('takes a PLC offline and brings it back on the same port', async () => {
    const dma = simulator.servers.find((server) => server.deviceIds.includes('plc-dma'))!;
    const port = dma.port;
    const read = async () => {
      const client = new ModbusClient();
      client.setTimeout(500);
      try {
        await client.connectTCP('127.0.0.1', { port });
        client.setID(1);
        return (await client.readInputRegisters(2, 1)).data[0];
      } finally {
        client.close(() => undefined);
      }
    };
    expect(await read()).to.be.a('number');
    const scenario = 'id: link-down\nevents:\n  - { kind: plc_offline, at: 0s, duration: 40m, device: plc-dma }\n';
    expect((await fetch(`${simUrl}/sim/scenarios`, { method: 'POST', headers: { 'content-type': 'application/yaml' }, body: scenario })).status).to.equal(201);
    await waitFor('the PLC to refuse connections', async () => (await read().then(() => false, () => true)) || undefined);
    await waitFor('the PLC back after forty simulated minutes (four wall seconds)', async () => (await read().then(() => true, () => false)) || undefined);
  });
});
