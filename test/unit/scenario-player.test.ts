import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadSiteConfig } from '../../src/config/site-loader.js';
import { parseScenario, type Scenario } from '../../src/contracts/scenario.js';
import { ConfigError } from '../../src/errors.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { HydraulicPlant, SPIKE_EVERY_READS } from '../../simulators/plant/hydraulic-plant.js';
import { JsonLinesFileSink, MemorySink, type GroundTruthRecord } from '../../simulators/scenarios/ground-truth.js';
import { ScenarioPlayer, type PlcLinks } from '../../simulators/scenarios/scenario-player.js';

/** Monday 2024-01-01 08:00 in Jakarta: the morning peak of the demand pattern. */
const START_MS = Date.UTC(2024, 0, 1, 1, 0, 0);
const MINUTE_S = 60;
const HOUR_S = 3600;
const isoAt = (simTimeS: number): string => new Date(START_MS + simTimeS * 1000).toISOString();

const scenario = (yaml: string): Scenario => parseScenario(yaml, 'test.yaml');

interface Rig {
  plant: HydraulicPlant;
  player: ScenarioPlayer;
  groundTruth: MemorySink<GroundTruthRecord>;
  plcCalls: Array<[string, boolean]>;
}

describe('scenario player', function () {
  this.timeout(20_000);
  let site: SiteConfig;
  const opened: HydraulicPlant[] = [];

  before(async () => {
    site = await loadSiteConfig('config/demo-town.yaml');
  });

  afterEach(() => {
    for (const plant of opened.splice(0)) plant.stop();
  });

  async function openPlant(): Promise<HydraulicPlant> {
    const plant = await HydraulicPlant.open(site, { clockMode: 'stepped', startEpochMs: START_MS, seed: 1 });
    plant.start();
    opened.push(plant);
    return plant;
  }

  async function rig(plcLinks?: PlcLinks): Promise<Rig> {
    const plant = await openPlant();
    const groundTruth = new MemorySink<GroundTruthRecord>();
    const plcCalls: Array<[string, boolean]> = [];
    const player = new ScenarioPlayer({ plant, site, groundTruth, plcLinks: plcLinks ?? { setOffline: (device, offline) => void plcCalls.push([device, offline]) } });
    player.attach();
    return { plant, player, groundTruth, plcCalls };
  }

  /** Steps each plant a minute at a time until `untilS`, then calls `visit` there. */
  function runTo(plants: HydraulicPlant[], untilS: number): void {
    while (plants[0]!.model.timeS < untilS) {
      const stepS = Math.min(MINUTE_S, untilS - plants[0]!.model.timeS);
      for (const plant of plants) plant.clock.step(stepS);
    }
  }

  it('a burst raises P-D2-IN flow and lowers DMA 2 pressure, then reverts after its duration', async () => {
    const { plant, player, groundTruth } = await rig();
    const baseline = await openPlant();
    player.add(scenario('id: burst\nevents:\n  - { kind: burst, at: 2m, duration: 10m, junction: J-D2-020, coefficient: 150 }\n'));
    const flow = (p: HydraulicPlant): number => p.model.readElement('P-D2-IN', 'flow');
    const pressure = (p: HydraulicPlant): number => p.model.readElement('J-D2-PS1', 'pressure');

    runTo([plant, baseline], MINUTE_S);
    expect(flow(plant)).to.be.closeTo(flow(baseline), 1e-6);
    expect(groundTruth.records).to.deep.equal([]);

    runTo([plant, baseline], 2 * MINUTE_S);
    expect(groundTruth.records, 'a burst is on record once the model has solved with it').to.deep.equal([]);
    runTo([plant, baseline], 5 * MINUTE_S);
    expect(flow(plant) - flow(baseline)).to.be.greaterThan(200);
    expect(pressure(plant)).to.be.lessThan(pressure(baseline) - 10);
    expect(plant.read('dma-2.inlet.flow').value).to.be.closeTo(flow(plant), 1e-6);
    expect(player.activeEvents()).to.deep.equal([{ scenario: 'burst', event: 'burst-1', kind: 'burst', zone: 'dma-2', junction: 'J-D2-020', startMs: START_MS + 120_000 }]);

    runTo([plant, baseline], 15 * MINUTE_S);
    expect(flow(plant)).to.be.closeTo(flow(baseline), 1);
    // Within the tank's difference: the burst drew it down a little further.
    expect(pressure(plant)).to.be.closeTo(pressure(baseline), 1);
    expect(player.activeEvents()).to.deep.equal([]);
    expect(player.running()).to.deep.equal([]);

    expect(groundTruth.records).to.have.length(1);
    const record = groundTruth.records[0]!;
    expect(record).to.deep.include({ scenario: 'burst', event: 'burst-1', kind: 'burst', zone: 'dma-2', start: isoAt(120), end: isoAt(720) });
    expect(record.where).to.deep.include({ junction: 'J-D2-020' });
    expect(record.where.lat).to.be.a('number');
    expect(record.size.coefficient_m3h_per_sqrt_m).to.equal(150);
    // The outflow the model solved with the burst in: the rise in the DMA's inflow, give or take its other demand's response.
    expect(record.size.outflow_m3h as number).to.be.within(300, 600);
  });

  it('a pump trip stops PU-1 until it ends', async () => {
    const { plant, player, groundTruth } = await rig();
    player.add(scenario('id: trip\nevents:\n  - { kind: pump_trip, at: 1m, duration: 10m, pump: PU-1 }\n'));
    runTo([plant], MINUTE_S - 1);
    expect(plant.model.readElement('PU-1', 'status')).to.equal(1);
    runTo([plant], 5 * MINUTE_S);
    expect(plant.model.readElement('PU-1', 'status')).to.equal(0);
    expect(plant.read('ps.pump1.run')).to.deep.equal({ value: 0, quality: 'good' });
    expect(plant.model.readElement('PU-2', 'status')).to.equal(1);
    runTo([plant], 12 * MINUTE_S);
    expect(plant.model.readElement('PU-1', 'status')).to.equal(1);
    expect(groundTruth.records.map((record) => [record.kind, record.where, record.zone, record.end])).to.deep.equal([['pump_trip', { pump: 'PU-1' }, null, isoAt(660)]]);
  });

  it('a valve closure cuts P-D3-IN, and the PRV regulates again when it ends', async () => {
    const { plant, player, groundTruth } = await rig();
    player.add(scenario('id: shut\nevents:\n  - { kind: valve_closure, at: 1m, duration: 5m, valve: V-D3-PRV }\n'));
    runTo([plant], 3 * MINUTE_S);
    expect(Math.abs(plant.model.readElement('P-D3-IN', 'flow'))).to.be.lessThan(0.1);
    expect(plant.model.readElement('J-D3-PS1', 'pressure')).to.be.lessThan(5);
    runTo([plant], 8 * MINUTE_S);
    expect(plant.model.readElement('P-D3-IN', 'flow')).to.be.greaterThan(100);
    expect(plant.model.readElement('J-D3-PS1', 'pressure')).to.be.within(25, 45);
    expect(groundTruth.records[0]).to.deep.include({ kind: 'valve_closure', zone: 'dma-3', where: { valve: 'V-D3-PRV' } });
  });

  it('tank_drain holds both pumps off and T-1 empties over hours; the pumps refill it afterwards', async () => {
    const { plant, player } = await rig();
    player.add(scenario('id: drain\nevents:\n  - { kind: tank_drain, at: 0, duration: 3h, pumps: [PU-1, PU-2] }\n'));
    const startLevelM = plant.read('ps.tank.level').value!;
    runTo([plant], 20 * MINUTE_S);
    const level20M = plant.model.readElement('T-1', 'level');
    expect(level20M).to.be.lessThan(startLevelM - 0.5);
    expect(level20M).to.be.greaterThan(1);
    runTo([plant], 3 * HOUR_S - MINUTE_S);
    expect(plant.model.readElement('T-1', 'level')).to.be.lessThan(0.5);
    expect([plant.model.readElement('PU-1', 'status'), plant.model.readElement('PU-2', 'status')]).to.deep.equal([0, 0]);
    runTo([plant], 3 * HOUR_S + 30 * MINUTE_S);
    expect(plant.model.readElement('PU-1', 'status')).to.equal(1);
    expect(plant.model.readElement('T-1', 'level')).to.be.greaterThan(0.5);
  });

  it('a demand surge raises its zone\'s inlet flow; a network-wide one multiplies with it', async () => {
    const { plant, player, groundTruth } = await rig();
    const baseline = await openPlant();
    player.add(scenario('id: surge\nevents:\n  - { kind: demand_surge, at: 1m, duration: 20m, zone: dma-1, factor: 1.5 }\n  - { kind: demand_surge, at: 10m, duration: 5m, zone: all, factor: 1.2 }\n'));
    const ratio = (inlet: string): number => plant.model.readElement(inlet, 'flow') / baseline.model.readElement(inlet, 'flow');
    runTo([plant, baseline], 5 * MINUTE_S);
    expect(ratio('P-D1-IN')).to.be.closeTo(1.5, 0.08);
    expect(ratio('P-D3-IN')).to.be.closeTo(1, 0.02);
    runTo([plant, baseline], 12 * MINUTE_S);
    expect(ratio('P-D1-IN')).to.be.closeTo(1.8, 0.1);
    expect(ratio('P-D3-IN')).to.be.closeTo(1.2, 0.05);
    runTo([plant, baseline], 18 * MINUTE_S);
    expect(ratio('P-D1-IN')).to.be.closeTo(1.5, 0.08);
    expect(ratio('P-D3-IN')).to.be.closeTo(1, 0.02);
    runTo([plant, baseline], 25 * MINUTE_S);
    expect(ratio('P-D1-IN')).to.be.closeTo(1, 0.02);
    expect(groundTruth.records.map((record) => [record.zone, record.size])).to.deep.equal([
      ['dma-1', { factor: 1.5 }],
      [null, { factor: 1.2 }],
    ]);
  });

  it('sensor faults distort plant readings in simulated time and clear when they end', async () => {
    const { plant, player, groundTruth } = await rig();
    player.add(
      scenario(`id: faults
events:
  - { kind: sensor_fault, at: 1m, duration: 1h, tag: dma-2.inlet.flow, fault: stuck }
  - { kind: sensor_fault, at: 1m, duration: 1h, tag: dma-1.pressure.1, fault: drift, rate_per_hour: 6 }
  - { kind: sensor_fault, at: 1m, duration: 1h, tag: dma-3.pressure.1, fault: spike, magnitude: 25 }
  - { kind: sensor_fault, at: 1m, duration: 1h, tag: ps.tank.level, fault: dropout }
`),
    );
    const model = (element: string, quantity: 'flow' | 'pressure' | 'level'): number => {
      const value = plant.model.readElement(element, quantity);
      return quantity === 'flow' ? Math.abs(value) : value;
    };
    runTo([plant], 30);
    const flowBeforeM3h = plant.read('dma-2.inlet.flow').value!;
    runTo([plant], 31 * MINUTE_S);

    // stuck: the last value measured before the fault, while the flow itself has moved on
    expect(plant.read('dma-2.inlet.flow')).to.deep.equal({ value: flowBeforeM3h, quality: 'good' });
    expect(model('P-D2-IN', 'flow')).to.not.equal(flowBeforeM3h);
    // drift: 6 m an hour for the 30 minutes since the fault began
    expect(plant.read('dma-1.pressure.1').value! - model('J-D1-PS1', 'pressure')).to.be.closeTo(3, 1e-6);
    // spike: every 5th reading carries the spike, the others are true
    const offsets = Array.from({ length: 2 * SPIKE_EVERY_READS }, () => plant.read('dma-3.pressure.1').value! - model('J-D3-PS1', 'pressure'));
    expect(offsets.map((offset) => Math.round(offset))).to.deep.equal([0, 0, 0, 0, 25, 0, 0, 0, 0, 25]);
    // dropout: nothing, with bad quality
    expect(plant.read('ps.tank.level')).to.deep.equal({ value: null, quality: 'bad' });

    runTo([plant], 62 * MINUTE_S);
    expect(plant.read('dma-2.inlet.flow').value).to.equal(model('P-D2-IN', 'flow'));
    expect(plant.read('dma-1.pressure.1').value).to.equal(model('J-D1-PS1', 'pressure'));
    expect(plant.read('dma-3.pressure.1').value).to.equal(model('J-D3-PS1', 'pressure'));
    expect(plant.read('ps.tank.level')).to.deep.equal({ value: model('T-1', 'level'), quality: 'good' });
    expect(groundTruth.records.map((record) => [record.where.tag, record.zone, record.size])).to.deep.equal([
      ['dma-2.inlet.flow', 'dma-2', { fault: 'stuck' }],
      ['dma-1.pressure.1', 'dma-1', { fault: 'drift', rate_per_hour: 6 }],
      ['dma-3.pressure.1', 'dma-3', { fault: 'spike', magnitude: 25 }],
      ['ps.tank.level', null, { fault: 'dropout' }],
    ]);
  });

  it('a pinned tag still reads its pin, and a fault is laid over it', async () => {
    const plant = await openPlant();
    plant.pin('dma-1.pressure.1', 12.5);
    expect(plant.read('dma-1.pressure.1').value).to.equal(12.5);
    plant.setFault('dma-1.pressure.1', { kind: 'drift', ratePerHour: 2 });
    plant.clock.step(HOUR_S / 2);
    expect(plant.read('dma-1.pressure.1').value).to.be.closeTo(13.5, 1e-9);
    plant.clearFault('dma-1.pressure.1');
    plant.unpin('dma-1.pressure.1');
    expect(plant.read('dma-1.pressure.1').value).to.equal(plant.model.readElement('J-D1-PS1', 'pressure'));
  });

  it('plc_offline takes the device off through the port, then back on', async () => {
    const { plant, player, plcCalls, groundTruth } = await rig();
    player.add(scenario('id: radio\nevents:\n  - { kind: plc_offline, at: 1m, duration: 2m, device: plc-dma }\n  - { kind: plc_offline, at: 2m, duration: 10s, device: plc-pump-station }\n'));
    runTo([plant], 2 * MINUTE_S);
    expect(plcCalls).to.deep.equal([
      ['plc-dma', true],
      ['plc-pump-station', true],
    ]);
    runTo([plant], 4 * MINUTE_S);
    expect(plcCalls).to.deep.equal([
      ['plc-dma', true],
      ['plc-pump-station', true],
      ['plc-pump-station', false],
      ['plc-dma', false],
    ]);
    expect(groundTruth.records.map((record) => [record.where.device, record.zone])).to.deep.equal([
      ['plc-dma', null],
      ['plc-pump-station', null],
    ]);
  });

  it('an asynchronous PLC port sees its calls in order, and its failures are reported', async () => {
    const calls: string[] = [];
    const failures: unknown[] = [];
    const plant = await openPlant();
    const player = new ScenarioPlayer({
      plant,
      site,
      groundTruth: new MemorySink(),
      plcLinks: {
        setOffline: async (device, offline) => {
          await new Promise((resolve) => setTimeout(resolve, offline ? 20 : 1));
          calls.push(`${device}:${offline}`);
          if (!offline) throw new Error('link refused');
        },
      },
      onPortError: (error, context) => failures.push([(error as Error).message, context.device, context.offline]),
    });
    player.attach();
    player.add(scenario('id: radio\nevents:\n  - { kind: plc_offline, at: 0, duration: 1s, device: plc-dma }\n'));
    plant.clock.step(MINUTE_S);
    await player.settled();
    expect(calls).to.deep.equal(['plc-dma:true', 'plc-dma:false']);
    expect(failures).to.deep.equal([['link refused', 'plc-dma', false]]);
  });

  it('refuses unknown elements when a scenario is added, before anything runs', async () => {
    const { player, groundTruth } = await rig();
    const bad = scenario('id: bad\nevents:\n  - { kind: burst, at: 1m, junction: J-D2-020, coefficient: 10 }\n  - { kind: pump_trip, at: 1m, pump: PU-7 }\n  - { kind: sensor_fault, at: 1m, tag: nope, fault: stuck }\n');
    let error: unknown;
    try {
      player.add(bad, { source: 'config/scenarios/bad.yaml' });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(ConfigError);
    expect((error as ConfigError).file).to.equal('config/scenarios/bad.yaml');
    expect((error as ConfigError).issues.map((issue) => issue.path)).to.deep.equal(['events[1].pump', 'events[2].tag']);
    expect(player.running()).to.deep.equal([]);
    expect(groundTruth.records).to.deep.equal([]);
  });

  it('plays several scenarios at once, added live, and stops one early with its actual end on record', async () => {
    const { plant, player, groundTruth } = await rig();
    const baseline = await openPlant();
    // Leak outflow as the DMA's inlet meter sees it (the junction's own `demand` keeps a removed emitter's last outflow in EPANET).
    const leakM3h = (): number => plant.model.readElement('P-D1-IN', 'flow') - baseline.model.readElement('P-D1-IN', 'flow');
    player.add(scenario('id: first\nevents:\n  - { kind: leak, at: 1m, junction: J-D1-030, coefficient: 3 }\n'));
    runTo([plant, baseline], 10 * MINUTE_S);
    player.add(scenario('id: second\nevents:\n  - { kind: leak, at: 5m, duration: 10m, junction: J-D1-030, coefficient: 2 }\n'));
    expect(() => player.add(scenario('id: second\nevents:\n  - { kind: pump_trip, at: 0, pump: PU-1 }\n'))).to.throw(ConfigError, /already playing/);
    const firstOnlyM3h = leakM3h();
    expect(firstOnlyM3h).to.be.within(10, 20);
    runTo([plant, baseline], 16 * MINUTE_S);
    // Both leaks on one junction: their emitters add up (3 + 2).
    expect(leakM3h() / firstOnlyM3h).to.be.closeTo(5 / 3, 0.1);
    expect(player.running()).to.deep.equal(['first', 'second']);
    runTo([plant, baseline], 26 * MINUTE_S);
    expect(leakM3h()).to.be.closeTo(firstOnlyM3h, 1);
    expect(player.running()).to.deep.equal(['first']);

    player.stop('first');
    runTo([plant, baseline], 27 * MINUTE_S);
    expect(Math.abs(leakM3h())).to.be.lessThan(1.5);
    expect(player.running()).to.deep.equal([]);
    expect(groundTruth.records.map((record) => [record.scenario, record.zone, record.start, record.end])).to.deep.equal([
      ['first', 'dma-1', isoAt(60), null],
      ['second', 'dma-1', isoAt(900), isoAt(1500)],
      ['first', 'dma-1', isoAt(60), isoAt(1560)],
    ]);
  });

  it('an event that starts and ends between two ticks is on record, with no outflow the model never saw', async () => {
    const { plant, player, groundTruth } = await rig();
    player.add(scenario('id: blip\nevents:\n  - { kind: burst, at: 10s, duration: 20s, junction: J-D2-020, coefficient: 50 }\n'));
    plant.clock.step(MINUTE_S);
    expect(groundTruth.records.map((record) => [record.start, record.end, record.size.outflow_m3h])).to.deep.equal([[isoAt(10), isoAt(30), null]]);
    expect(player.activeEvents()).to.deep.equal([]);
  });

  it('a growing leak widens by its growth rate', async () => {
    const { plant, player } = await rig();
    player.add(scenario('id: grow\nevents:\n  - { kind: leak, at: 0, junction: J-D3-020, coefficient: 2, growth_per_hour: 1 }\n'));
    const leakM3h = (): number => plant.model.readElement('J-D3-020', 'demand');
    runTo([plant], 2 * MINUTE_S);
    const earlyM3h = leakM3h();
    runTo([plant], 2 * HOUR_S);
    // The coefficient has tripled; the outflow less than that, as pressure falls with it.
    expect(leakM3h()).to.be.greaterThan(earlyM3h * 2);
  });

  it('writes ground truth as JSON lines to a file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tirta-ground-truth-'));
    try {
      const file = path.join(dir, 'nested', 'ground-truth.jsonl');
      const sink = new JsonLinesFileSink<GroundTruthRecord>(file, { durable: true });
      const record: GroundTruthRecord = { scenario: 's', event: 'e', kind: 'burst', where: { junction: 'J-D2-020' }, zone: 'dma-2', start: isoAt(0), end: null, size: { coefficient_m3h_per_sqrt_m: 1 } };
      sink.write(record);
      sink.write({ ...record, end: isoAt(60) });
      // On disk before close: a crash now loses nothing.
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      expect(lines.map((line) => JSON.parse(line))).to.deep.equal([record, { ...record, end: isoAt(60) }]);
      sink.close();
      expect(() => sink.write(record)).to.throw(/closed/);
      const reopened = new JsonLinesFileSink<GroundTruthRecord>(file);
      reopened.write(record);
      reopened.close();
      expect(readFileSync(file, 'utf8').trimEnd().split('\n')).to.have.length(3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
