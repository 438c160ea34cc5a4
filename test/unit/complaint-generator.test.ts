import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { loadSiteConfig } from '../../src/config/site-loader.js';
import { complaintBodySchema } from '../../src/contracts/complaint.js';
import { complaintSettingsSchema, parseScenario, type ComplaintSettings } from '../../src/contracts/scenario.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { zoneAt } from '../../src/contracts/geometry.js';
import { HydraulicPlant } from '../../simulators/plant/hydraulic-plant.js';
import { ComplaintGenerator, observeEachInterval, toComplaintBody, type SyntheticComplaint } from '../../simulators/scenarios/complaint-generator.js';
import { JsonLinesFileSink, MemorySink, type RecordSink } from '../../simulators/scenarios/ground-truth.js';
import { distanceM } from '../../src/contracts/geometry.js';
import { ScenarioPlayer } from '../../simulators/scenarios/scenario-player.js';

/** Monday 2024-01-01 08:00 in Jakarta: the morning peak. */
const START_MS = Date.UTC(2024, 0, 1, 1, 0, 0);
const MINUTE_S = 60;
const HOUR_S = 3600;

const BURST = `id: braga-burst
events:
  - { kind: burst, at: 2m, duration: 30m, junction: J-D2-020, coefficient: 150 }
`;

interface RunOptions {
  scenarioYaml?: string;
  seed: number;
  settings?: Partial<ComplaintSettings>;
  durationS: number;
  sink?: RecordSink<SyntheticComplaint>;
}

describe('complaint generator', function () {
  this.timeout(20_000);
  let site: SiteConfig;

  before(async () => {
    site = await loadSiteConfig('config/demo-town.yaml');
  });

  /** Plays a scenario (or none) on a stepped plant, observing each simulated minute; returns the complaints. */
  async function run(options: RunOptions): Promise<SyntheticComplaint[]> {
    const plant = await HydraulicPlant.open(site, { clockMode: 'stepped', startEpochMs: START_MS, seed: 1 });
    try {
      plant.start();
      const player = new ScenarioPlayer({ plant, site, groundTruth: new MemorySink(), plcLinks: { setOffline: () => undefined } });
      player.attach();
      if (options.scenarioYaml !== undefined) player.add(parseScenario(options.scenarioYaml, 'test.yaml'));
      const memory = new MemorySink<SyntheticComplaint>();
      const sink: RecordSink<SyntheticComplaint> = {
        write: (record) => {
          memory.write(record);
          options.sink?.write(record);
        },
      };
      const generator = new ComplaintGenerator({
        model: plant.model,
        site,
        seed: options.seed,
        sink,
        incidents: player,
        settings: complaintSettingsSchema.parse(options.settings ?? {}),
      });
      observeEachInterval(plant, generator);
      for (let elapsedS = 0; elapsedS < options.durationS; elapsedS += MINUTE_S) plant.clock.step(MINUTE_S);
      return memory.records;
    } finally {
      plant.stop();
    }
  }

  const zoneOf = (complaint: SyntheticComplaint): string | undefined => zoneAt(complaint.location, site.zones)?.id;

  describe('a burst in DMA 2', () => {
    let complaints: SyntheticComplaint[];

    before(async () => {
      complaints = await run({ scenarioYaml: BURST, seed: 11, durationS: 2 * HOUR_S });
    });

    it('brings complaints, mostly from its zone, carrying its scenario id', () => {
      const burstComplaints = complaints.filter((complaint) => complaint.scenario_id === 'braga-burst');
      expect(burstComplaints.length).to.be.at.least(8);
      const inZone = burstComplaints.filter((complaint) => zoneOf(complaint) === 'dma-2');
      expect(inZone.length / burstComplaints.length).to.be.at.least(0.9);
      expect(complaints.every((complaint) => complaint.scenario_id === 'braga-burst' || complaint.scenario_id === null)).to.equal(true);
    });

    it('sorts them into sensible categories: leak_burst near the burst, low pressure or no water further away', () => {
      const burstComplaints = complaints.filter((complaint) => complaint.scenario_id === 'braga-burst');
      const categories = new Set(burstComplaints.map((complaint) => complaint.category));
      expect([...categories].every((category) => ['leak_burst', 'low_pressure', 'no_water'].includes(category))).to.equal(true);
      expect(categories).to.include('leak_burst');
      expect(categories.has('low_pressure') || categories.has('no_water')).to.equal(true);
      const burstAt = { lat: -6.9062, lon: 107.608786 };
      for (const complaint of burstComplaints.filter((candidate) => candidate.category === 'leak_burst')) {
        expect(distanceM(complaint.location, burstAt)).to.be.lessThan(150 + 50);
      }
    });

    it('dates them after the burst began, within the reporting delay of its end, in simulated time', () => {
      const burstStartMs = START_MS + 2 * MINUTE_S * 1000;
      const latestMs = START_MS + 32 * MINUTE_S * 1000 + 1800 * 1000;
      for (const complaint of complaints.filter((candidate) => candidate.scenario_id === 'braga-burst')) {
        const reportedMs = Date.parse(complaint.reported_at);
        expect(reportedMs).to.be.within(burstStartMs + 120 * 1000, latestMs);
      }
      const times = complaints.map((complaint) => Date.parse(complaint.reported_at));
      expect(times).to.deep.equal([...times].sort((a, b) => a - b));
    });

    it('emits exactly the API body plus reported_at and scenario_id, and toComplaintBody makes it acceptable', () => {
      const ids = new Set<string>();
      for (const complaint of complaints) {
        expect(Object.keys(complaint).sort()).to.deep.equal(['category', 'channel', 'external_id', 'location', 'reported_at', 'scenario_id', 'text']);
        expect(complaintBodySchema.safeParse(complaint).success, 'scenario_id must not pass the strict body').to.equal(false);
        const body = complaintBodySchema.parse(toComplaintBody(complaint));
        expect(body).to.not.have.property('scenario_id');
        expect(['call_center', 'whatsapp', 'social_media', 'web', 'walk_in']).to.include(body.channel);
        expect(body.external_id).to.match(/^sim-11-\d+$/);
        ids.add(body.external_id!);
      }
      expect(ids.size).to.equal(complaints.length);
    });
  });

  it('a closed PRV brings low-pressure and no-water complaints from DMA 3, attributed to the closure', async () => {
    const complaints = await run({
      scenarioYaml: 'id: prv-shut\nevents:\n  - { kind: valve_closure, at: 1m, duration: 30m, valve: V-D3-PRV }\n',
      seed: 5,
      settings: { noise_per_hour: 0, delay_min_s: 60, delay_max_s: 600 },
      durationS: HOUR_S,
    });
    expect(complaints.length).to.be.at.least(10);
    expect(complaints.every((complaint) => complaint.scenario_id === 'prv-shut')).to.equal(true);
    expect(complaints.filter((complaint) => zoneOf(complaint) === 'dma-3').length / complaints.length).to.be.at.least(0.9);
    expect(new Set(complaints.map((complaint) => complaint.category))).to.satisfy((categories: Set<string>) => [...categories].every((category) => category === 'low_pressure' || category === 'no_water'));
  });

  it('with no scenario, emits only unrelated complaints at about the configured rate', async () => {
    const noisePerHour = 6;
    const hours = 24;
    const complaints = await run({ seed: 3, settings: { noise_per_hour: noisePerHour }, durationS: hours * HOUR_S });
    const expected = noisePerHour * hours;
    // Poisson: ±3 standard deviations.
    expect(complaints.length).to.be.within(expected - 3 * Math.sqrt(expected), expected + 3 * Math.sqrt(expected));
    expect(complaints.every((complaint) => complaint.scenario_id === null)).to.equal(true);
    const categories = new Set(complaints.map((complaint) => complaint.category));
    expect(categories).to.include('water_quality');
    expect(categories).to.include('other');
    const zones = new Set(complaints.map(zoneOf));
    expect(zones).to.include.members(['dma-1', 'dma-2', 'dma-3']);
    for (const complaint of complaints) complaintBodySchema.parse(toComplaintBody(complaint));
  });

  it('gives identical JSON lines for the same seed and different ones for another seed', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tirta-complaints-'));
    try {
      const file = path.join(dir, 'complaints.jsonl');
      const fileSink = new JsonLinesFileSink<SyntheticComplaint>(file);
      const first = await run({ scenarioYaml: BURST, seed: 21, durationS: HOUR_S, sink: fileSink });
      fileSink.close();
      const second = await run({ scenarioYaml: BURST, seed: 21, durationS: HOUR_S });
      const other = await run({ scenarioYaml: BURST, seed: 22, durationS: HOUR_S });
      const lines = (records: SyntheticComplaint[]): string => records.map((record) => `${JSON.stringify(record)}\n`).join('');
      expect(first.length).to.be.greaterThan(5);
      expect(readFileSync(file, 'utf8')).to.equal(lines(first));
      expect(lines(second)).to.equal(lines(first));
      expect(lines(other)).to.not.equal(lines(first));
      expect(other[0]!.external_id).to.match(/^sim-22-1$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a customer group complains at most once per episode, and again in the next one', () => {
    // Two junctions in DMA 1 (4200 customers): 2100 each, in groups of about 1000 → 2 groups each.
    const pressureM = new Map([
      ['J-A', 30],
      ['J-B', 30],
    ]);
    const model = {
      elements: () => ({
        nodes: [
          { id: 'J-A', kind: 'junction' as const, lon: 107.605, lat: -6.895, elevationM: 700 },
          { id: 'J-B', kind: 'junction' as const, lon: 107.615, lat: -6.89, elevationM: 700 },
          { id: 'J-OUTSIDE', kind: 'junction' as const, lon: 107.5, lat: -6.8, elevationM: 700 },
        ],
        links: [],
      }),
      readElement: (element: string) => pressureM.get(element) ?? 40,
    };
    const sink = new MemorySink<SyntheticComplaint>();
    const generator = new ComplaintGenerator({
      model,
      site,
      seed: 1,
      sink,
      settings: complaintSettingsSchema.parse({ noise_per_hour: 0, complaint_probability: 1, customers_per_group: 1000, delay_min_s: 0, delay_max_s: 120 }),
    });
    const minute = (n: number): number => START_MS + n * MINUTE_S * 1000;
    // Table: minute, pressure at J-A, pressure at J-B, complaints emitted by then.
    const steps: Array<[number, number, number, number]> = [
      [0, 30, 30, 0],
      [1, 6, 30, 0], // J-A's episode begins: 2 groups decide to complain within 2 minutes
      [3, 0.5, 30, 2], // worse before they report: they report no water
      [10, 3, 30, 2], // still the same episode: nobody complains twice
      [20, 10.5, 30, 2], // above the service level but not yet recovered by the margin
      [21, 12, 30, 2], // recovered: the episode ends
      [22, 4, 8, 2], // a new episode at J-A, a first at J-B
      [25, 4, 8, 6],
      [40, 4, 8, 6],
    ];
    for (const [at, pressureA, pressureB, emitted] of steps) {
      pressureM.set('J-A', pressureA);
      pressureM.set('J-B', pressureB);
      generator.observe(minute(at));
      expect(sink.records.length, `minute ${at}`).to.equal(emitted);
    }
    expect(sink.records.map((complaint) => complaint.category)).to.deep.equal(['no_water', 'no_water', 'low_pressure', 'low_pressure', 'low_pressure', 'low_pressure']);
    expect(sink.records.every((complaint) => complaint.scenario_id === null && zoneOf(complaint) === 'dma-1')).to.equal(true);
    expect(sink.records.map((complaint) => complaint.external_id)).to.deep.equal(['sim-1-1', 'sim-1-2', 'sim-1-3', 'sim-1-4', 'sim-1-5', 'sim-1-6']);
    expect(() => generator.observe(minute(39))).to.throw(RangeError, /already observed/);
  });
});
