import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { EngineSample } from '../../src/contracts/anomaly.js';
import { loadSiteConfig } from '../../src/config/site-loader.js';
import { parseScenario } from '../../src/contracts/scenario.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { readComplaintsJsonl } from '../../src/replay/complaints-jsonl.js';
import { readTelemetryCsv } from '../../src/replay/telemetry-csv.js';
import { recordScenario, writeRecording, type Recording } from '../../simulators/scenarios/scenario-recorder.js';

/** Monday 2024-01-01 08:00 in Jakarta: the morning peak, when a burst's customers notice at once. */
const START_MS = Date.UTC(2024, 0, 1, 1, 0, 0);
const MINUTE_MS = 60_000;

const burst = parseScenario(readFileSync('config/scenarios/burst-dma-2.yaml', 'utf8'), 'burst-dma-2.yaml');
const stuck = parseScenario('id: stuck\nevents:\n  - { kind: sensor_fault, at: 10m, duration: 30m, tag: dma-1.pressure.2, fault: stuck }\n', 'stuck.yaml');
const offline = parseScenario(readFileSync('config/scenarios/plc-offline.yaml', 'utf8'), 'plc-offline.yaml');

const series = (recording: Recording, tag: string): EngineSample[] => recording.samples.filter((sample) => sample.tag === tag);
const valueAt = (recording: Recording, tag: string, timeMs: number): number | null => series(recording, tag).find((sample) => sample.timeMs === timeMs)?.value ?? null;

describe('scenario recorder', function () {
  this.timeout(60_000);
  let site: SiteConfig;
  let burstRun: Recording;

  before(async () => {
    site = await loadSiteConfig('config/demo-town.yaml');
    burstRun = await recordScenario({ site, scenarios: [burst], startEpochMs: START_MS, durationS: 2 * 3600, warmupHours: 1, seed: 5 });
  });

  it('is deterministic: the same scenario, seed and start give identical samples, complaints and ground truth', async () => {
    const again = await recordScenario({ site, scenarios: [burst], startEpochMs: START_MS, durationS: 2 * 3600, warmupHours: 1, seed: 5 });
    expect(again).to.deep.equal(burstRun);
    const otherSeed = await recordScenario({ site, scenarios: [burst], startEpochMs: START_MS, durationS: 2 * 3600, warmupHours: 1, seed: 6 });
    expect(otherSeed.samples).to.not.deep.equal(burstRun.samples);
  });

  it('samples every tag each interval from the warm-up on, in time order', () => {
    const times = [...new Set(burstRun.samples.map((sample) => sample.timeMs))];
    expect(times[0]).to.equal(START_MS - 3_600_000);
    expect(times[times.length - 1]).to.equal(START_MS + 2 * 3_600_000);
    expect(times).to.have.length(3 * 60 + 1);
    expect(times.every((time, index) => index === 0 || time - times[index - 1]! === MINUTE_MS)).to.equal(true);
    expect(burstRun.samples).to.have.length(times.length * site.tags.length);
    expect(burstRun.warmupSampleCount).to.equal(60 * site.tags.length);
    expect(burstRun.samples[burstRun.warmupSampleCount]!.timeMs).to.equal(START_MS);
  });

  it('records the burst in the ground truth at its offset from the start, and DMA 2 inlet flow rises by hundreds of m3/h', () => {
    expect(burstRun.groundTruth).to.have.length(1);
    const record = burstRun.groundTruth[0]!;
    expect(record).to.include({ scenario: 'burst-dma-2', kind: 'burst', zone: 'dma-2', start: new Date(START_MS + 5 * MINUTE_MS).toISOString(), end: new Date(START_MS + 65 * MINUTE_MS).toISOString() });
    expect(record.size.outflow_m3h).to.be.greaterThan(200);
    const before = valueAt(burstRun, 'dma-2.inlet.flow', START_MS + MINUTE_MS)!;
    const during = valueAt(burstRun, 'dma-2.inlet.flow', START_MS + 10 * MINUTE_MS)!;
    const after = valueAt(burstRun, 'dma-2.inlet.flow', START_MS + 90 * MINUTE_MS)!;
    expect(during - before).to.be.greaterThan(200);
    expect(after).to.be.lessThan(before + 100);
    // The other districts' meters see no burst.
    expect(Math.abs(valueAt(burstRun, 'dma-3.inlet.flow', START_MS + 10 * MINUTE_MS)! - valueAt(burstRun, 'dma-3.inlet.flow', START_MS + MINUTE_MS)!)).to.be.lessThan(100);
  });

  it('records complaints about the burst after it began, attributed to it, with unique ids', () => {
    const about = burstRun.complaints.filter((complaint) => burstRun.complaintScenarios[complaint.id] === 'burst-dma-2');
    expect(about.length).to.be.greaterThan(5);
    expect(about.every((complaint) => Date.parse(complaint.reported_at) > START_MS + 2 * MINUTE_MS)).to.equal(true);
    expect(burstRun.complaints.every((complaint) => Date.parse(complaint.reported_at) >= START_MS)).to.equal(true);
    expect(new Set(burstRun.complaints.map((complaint) => complaint.id)).size).to.equal(burstRun.complaints.length);
    expect(Object.keys(burstRun.complaintScenarios).sort()).to.deep.equal(burstRun.complaints.map((complaint) => complaint.id).sort());
  });

  it('a stuck sensor repeats one value, with good quality, for exactly its duration', async () => {
    const run = await recordScenario({ site, scenarios: [stuck], startEpochMs: START_MS, durationS: 3600, seed: 5 });
    const pressure = series(run, 'dma-1.pressure.2');
    const during = pressure.filter((sample) => sample.timeMs >= START_MS + 10 * MINUTE_MS && sample.timeMs < START_MS + 40 * MINUTE_MS);
    expect(during).to.have.length(30);
    expect(new Set(during.map((sample) => sample.value)).size).to.equal(1);
    expect(during.every((sample) => sample.quality === 0)).to.equal(true);
    const before = pressure.filter((sample) => sample.timeMs < START_MS + 10 * MINUTE_MS);
    const after = pressure.filter((sample) => sample.timeMs >= START_MS + 40 * MINUTE_MS);
    expect(new Set(before.map((sample) => sample.value)).size).to.be.greaterThan(5);
    expect(new Set(after.map((sample) => sample.value)).size).to.be.greaterThan(5);
    // Its neighbour keeps moving with the demand.
    expect(new Set(series(run, 'dma-1.pressure.1').filter((sample) => during.some((frozen) => frozen.timeMs === sample.timeMs)).map((sample) => sample.value)).size).to.be.greaterThan(5);
    expect(run.groundTruth.map((record) => record.kind)).to.deep.equal(['sensor_fault']);
  });

  it('an offline PLC gives bad samples without values for its tags (or none), the other devices carry on', async () => {
    const options = { site, scenarios: [offline], startEpochMs: START_MS, durationS: 1800, seed: 5 };
    const bad = await recordScenario(options);
    const silent = await recordScenario({ ...options, offlineSamples: 'none' });
    const window = (sample: EngineSample) => sample.timeMs >= START_MS + 5 * MINUTE_MS && sample.timeMs < START_MS + 15 * MINUTE_MS;
    const dmaTags = new Set(site.tags.filter((tag) => tag.device === 'plc-dma').map((tag) => tag.id));
    const offlineSamples = bad.samples.filter((sample) => window(sample) && dmaTags.has(sample.tag));
    expect(offlineSamples).to.have.length(10 * dmaTags.size);
    expect(offlineSamples.every((sample) => sample.value === null && sample.quality === 2)).to.equal(true);
    expect(silent.samples.filter((sample) => window(sample) && dmaTags.has(sample.tag))).to.deep.equal([]);
    expect(bad.samples.filter((sample) => window(sample) && !dmaTags.has(sample.tag)).every((sample) => sample.quality === 0)).to.equal(true);
    expect(bad.samples.filter((sample) => sample.timeMs === START_MS + 20 * MINUTE_MS && dmaTags.has(sample.tag)).every((sample) => sample.quality === 0 && sample.value !== null)).to.equal(true);
  });

  it('writes telemetry CSV, complaints and ground truth as JSON lines that the replay readers take back unchanged', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tirta-recorder-'));
    try {
      const files = await writeRecording(dir, burstRun);
      const columns = await readTelemetryCsv(files.telemetryFile, { knownTags: new Set(site.tags.map((tag) => tag.id)) });
      expect(columns.length).to.equal(burstRun.samples.length);
      const readBack = Array.from({ length: columns.length }, (_, index) => ({
        tag: columns.tags[columns.tagIndex[index]!]!,
        timeMs: columns.timeMs[index]!,
        value: Number.isNaN(columns.value[index]!) ? null : columns.value[index]!,
        quality: columns.quality[index]!,
      }));
      expect(readBack).to.deep.equal(burstRun.samples);
      expect(await readComplaintsJsonl(files.complaintsFile)).to.deep.equal(burstRun.complaints);
      const truth = readFileSync(files.groundTruthFile, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
      expect(truth).to.deep.equal(burstRun.groundTruth);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
