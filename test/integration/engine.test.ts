// The engine end to end: `tirta replay` over recorded files, and the live engine over MQTT and
// the database giving the same incidents for the same data.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { createApiKey } from '../../src/access/accounts.js';
import { createApp } from '../../src/api/app.js';
import { topics, type TelemetryBatch } from '../../src/contracts/telemetry.js';
import { LiveEngine } from '../../src/engine/live-engine.js';
import { listIncidents } from '../../src/engine/engine-store.js';
import { silentLogger } from '../../src/log.js';
import { engineComplaints, runReplay, type ReplayOutput } from '../../src/replay/replay.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite } from '../../src/storage/site-registry.js';
import { pgDatabase } from '../../src/storage/sql.js';
import { listWorkOrders } from '../../src/workorders/work-orders.js';
import { freshDatabase, testServices, uniqueId, waitFor } from '../support/services.js';
import { BURST_AT_MS, syntheticComplaints, syntheticSite, syntheticTelemetry } from '../support/synthetic-burst.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tirta(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, ['src/cli/bin.js', ...args], { env: { ...process.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

describe('engine replay', function () {
  this.timeout(60_000);
  let dir: string;
  let files: { site: string; telemetry: string; complaints: string };

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tirta-replay-'));
    files = { site: path.join(dir, 'site.yaml'), telemetry: path.join(dir, 'telemetry.csv'), complaints: path.join(dir, 'complaints.jsonl') };
    await writeFile(files.site, stringify(syntheticSite()));
    await writeFile(files.telemetry, syntheticTelemetry().csv);
    await writeFile(files.complaints, syntheticComplaints().map((complaint) => JSON.stringify(complaint)).join('\n'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  it('turns a burst and its complaints into one verified incident and one work order, deterministically', async () => {
    const out = [path.join(dir, 'first.json'), path.join(dir, 'second.json')];
    const runs = await Promise.all(out.map((file) => tirta(['replay', '--site', files.site, '--telemetry', files.telemetry, '--complaints', files.complaints, '--out', file])));
    for (const run of runs) expect(run.code, run.stderr).to.equal(0);
    expect(runs[0]!.stderr).to.match(/replay: done, 7,200 of 7,200 samples, \d+ anomalies, \d+ incidents/);
    const [first, second] = await Promise.all(out.map((file) => readFile(file, 'utf8')));
    expect(first).to.equal(second);

    const result = JSON.parse(first!) as ReplayOutput;
    const burstAnomalies = result.anomalies.filter((anomaly) => anomaly.zone === 'dma-a' && Date.parse(anomaly.start) >= BURST_AT_MS - 5 * 60_000);
    expect(burstAnomalies.map((anomaly) => anomaly.kind)).to.include('pressure_low');
    const burstIncidents = result.incidents.filter((incident) => incident.zone === 'dma-a');
    expect(burstIncidents).to.have.length(1);
    const incident = burstIncidents[0]!;
    expect(incident.complaint_ids).to.have.members(['c-1', 'c-2', 'c-3', 'c-4', 'c-5', 'c-6', 'c-7', 'c-8']);
    expect(incident.verified).to.equal(true);
    expect(incident.reasons.map((reason) => reason.factor)).to.include('critical_customers');
    expect(result.work_orders.filter((order) => order.incident_id === incident.id)).to.have.length(1);
    // The unrelated quality complaint in DMA B opens nothing on its own.
    expect(result.incidents.flatMap((candidate) => candidate.complaint_ids)).not.to.include('c-9');
  });

  it('locates recorded complaints by account and by street the way the API does', async () => {
    const base = syntheticSite();
    const site = { ...base, customers: { ...base.customers, accounts: [{ account: '01-2345', zone: 'dma-b' }], streets: [{ name: 'Jalan Merdeka', aliases: [], zone: 'dma-a' }] } };
    const [byAccount, byStreet, unknown] = await engineComplaints(
      [
        { ...syntheticComplaints()[0]!, id: 'a', location: { account: '012345' } },
        { ...syntheticComplaints()[0]!, id: 's', location: { address: 'Jl. Merdeka no. 4' } },
        { ...syntheticComplaints()[0]!, id: 'u', location: { address: 'Jalan Tak Dikenal 1' } },
      ],
      site,
    );
    expect([byAccount!.zone, byStreet!.zone, unknown!.zone]).to.deep.equal(['dma-b', 'dma-a', null]);
  });

  it('reads the wide form and epoch-millisecond times to the same result as the long form', async () => {
    const { rows } = syntheticTelemetry();
    const times = [...new Set(rows.map((row) => row.timeMs))];
    const byTime = new Map<number, Map<string, number>>();
    for (const row of rows) (byTime.get(row.timeMs) ?? byTime.set(row.timeMs, new Map()).get(row.timeMs)!).set(row.tag, row.value);
    const tags = ['a.inlet.flow', 'a.pressure.1', 'a.pressure.2'];
    const wide = path.join(dir, 'wide.csv');
    await writeFile(wide, `time,${tags.join(',')}\n${times.map((time) => `${time},${tags.map((tag) => byTime.get(time)!.get(tag)).join(',')}`).join('\n')}\n`);
    const site = syntheticSite();
    const [long, wideResult] = await Promise.all([
      runReplay({ site, telemetryFile: files.telemetry, complaintsFile: files.complaints }),
      runReplay({ site, telemetryFile: wide, complaintsFile: files.complaints }),
    ]);
    expect(wideResult.incidents).to.deep.equal(long.incidents);
    expect(wideResult.anomalies).to.deep.equal(long.anomalies);
  });

  it('exits 2 naming the line and column of bad telemetry, and the line and field of a bad complaint', async () => {
    const badCsv = path.join(dir, 'bad.csv');
    await writeFile(badCsv, 'time,tag,value\n2026-03-02T00:00:00Z,a.inlet.flow,12\n2026-03-02 00:01,a.inlet.flow,13\n2026-03-02T00:02:00Z,a.inlet.flow,lots\n');
    const csvRun = await tirta(['replay', '--site', files.site, '--telemetry', badCsv]);
    expect(csvRun.code).to.equal(2);
    expect(csvRun.stderr).to.contain('line 3, time').and.to.contain('line 4, value');
    const badJsonl = path.join(dir, 'bad.jsonl');
    await writeFile(badJsonl, `${JSON.stringify(syntheticComplaints()[0])}\n${JSON.stringify({ ...syntheticComplaints()[1], location: { lat: 95, lon: 0 } })}\n`);
    const jsonlRun = await tirta(['replay', '--site', files.site, '--telemetry', files.telemetry, '--complaints', badJsonl]);
    expect(jsonlRun.code).to.equal(2);
    expect(jsonlRun.stderr).to.contain('line 2, location');
    expect((await tirta(['replay', '--site', files.site])).code).to.equal(2);
  });
});

describe('engine live', function () {
  this.timeout(120_000);

  it('gives the same incidents as the replay of the same data', async () => {
    const site = { ...syntheticSite(), site: { id: uniqueId('synthetic'), name: 'Synthetic town', timezone: 'UTC' } };
    const db = await freshDatabase();
    const { mqttUrl } = await testServices();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'tirta-live-'));
    const publisher = await mqtt.connectAsync(mqttUrl, { clientId: uniqueId('publisher') });
    let engine: LiveEngine | undefined;
    const server = createApp({ pool: db.pool, site, log: silentLogger, brokerConnected: () => true, storageFlavour: 'postgres' }).listen(0, '127.0.0.1');
    try {
      await migrate(pgDatabase(db.pool));
      await registerSite(db.pool, site);
      engine = new LiveEngine({ mqttUrl, pool: db.pool, site, log: silentLogger, clientId: uniqueId('tirta-engine'), historyDays: 0, catchUpMs: 0, pollIntervalMs: 100 });
      await engine.start();
      if (!server.listening) await new Promise((resolve) => server.once('listening', resolve));
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1`;
      const callCentre = await createApiKey(db.pool, { name: 'call-centre', role: 'operator' });
      const complaints = syntheticComplaints();
      const idByExternal = new Map<string, string>();
      for (const { id, ...body } of complaints) {
        const response = await fetch(`${base}/complaints`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${callCentre}` }, body: JSON.stringify(body) });
        expect(response.status).to.equal(201);
        idByExternal.set(((await response.json()) as { id: string }).id, id);
      }
      await waitFor('the engine to read every complaint', async () => (engine!.counters.complaints === complaints.length ? true : undefined));

      const { rows, csv } = syntheticTelemetry();
      let seq = 0;
      for (let index = 0; index < rows.length; index += 3) {
        const group = rows.slice(index, index + 3);
        const batch: TelemetryBatch = {
          site: site.site.id, device: 'recorder', seq: seq++, poll_ts_ms: group[0]!.timeMs, historical: true,
          samples: group.map((row) => ({ tag: row.tag, value: row.value, quality: 'good' as const, source_ts_ms: row.timeMs })),
        };
        await publisher.publishAsync(topics.telemetry(site.site.id, 'recorder'), JSON.stringify(batch), { qos: 1 });
      }
      await waitFor('the engine to take every sample', async () => (engine!.counters.samples === rows.length ? true : undefined), 60_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await engine.drain();

      const telemetryFile = path.join(dir, 'telemetry.csv');
      const complaintsFile = path.join(dir, 'complaints.jsonl');
      await writeFile(telemetryFile, csv);
      await writeFile(complaintsFile, complaints.map((complaint) => JSON.stringify(complaint)).join('\n'));
      const replayed = await runReplay({ site, telemetryFile, complaintsFile });
      const comparable = (incident: { zone: string | null; kind: string; opened_at: string; priority: string; complaint_ids: string[]; anomaly_ids: string[]; verified: boolean }) => ({
        zone: incident.zone, kind: incident.kind, opened_at: incident.opened_at, priority: incident.priority, verified: incident.verified,
        complaints: [...incident.complaint_ids].sort(), anomalies: [...incident.anomaly_ids].sort(),
      });
      const live = (await listIncidents(db.pool, site.site.id, { limit: 100 })).map((incident) => comparable({ ...incident, complaint_ids: incident.complaint_ids.map((id) => idByExternal.get(id) ?? id) }));
      const expected = replayed.incidents.map(comparable);
      expect(expected.length).to.be.greaterThan(0);
      expect(live.sort((a, b) => a.opened_at.localeCompare(b.opened_at))).to.deep.equal(expected.sort((a, b) => a.opened_at.localeCompare(b.opened_at)));
      // Live, each opening becomes a dispatchable order with a code and a due time from the workload.
      const liveOrders = await listWorkOrders(db.pool, site.site.id, { limit: 100 });
      expect(replayed.work_orders.length).to.be.greaterThan(0);
      expect(liveOrders.map((order) => [order.id, order.incident_id, order.job_type, order.priority, order.created_at]).sort()).to.deep.equal(
        replayed.work_orders.map((order) => [order.id, order.incident_id, order.job_type, order.priority, order.created_at]).sort(),
      );
      for (const order of liveOrders) {
        expect(order.code).to.match(/^WO-\d+$/);
        expect(order.due_basis?.standard_minutes).to.equal(site.dispatch.standard_minutes[order.job_type]);
      }
    } finally {
      await engine?.stop();
      await publisher.endAsync();
      await new Promise((resolve) => server.close(resolve));
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
