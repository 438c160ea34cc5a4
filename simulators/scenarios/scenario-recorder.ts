// Records a scenario offline, as fast as the hydraulics solve: the plant runs on a stepped clock,
// the scenario player injects the events, the complaint generator produces what customers would
// report, and every tag of the site is read (sensor faults included) at a fixed simulated
// interval. The result is what a site would have stored — telemetry, complaints — together with
// the truth behind it (ground-truth records, and which scenario each complaint is about), so that
// detection and correlation can be scored against it. The writers give the files `tirta replay`
// reads. The same site, scenarios, seed and start give the same recording.
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import type { EngineSample } from '../../src/contracts/anomaly.js';
import type { ComplaintBody } from '../../src/contracts/complaint.js';
import { complaintSettingsSchema, type ComplaintSettings, type Scenario } from '../../src/contracts/scenario.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { HydraulicPlant, type HydraulicPlantOptions } from '../plant/hydraulic-plant.js';
import type { SimulatedQuality } from '../plant/plant-source.js';
import { ComplaintGenerator } from './complaint-generator.js';
import { MemorySink, type GroundTruthRecord } from './ground-truth.js';
import { ScenarioPlayer } from './scenario-player.js';

/** A complaint as `tirta replay` reads it: the API body plus its id and a required report time. */
export type RecordedComplaint = ComplaintBody & { id: string; reported_at: string };

export interface RecordingOptions {
  site: SiteConfig;
  /** Played together from `startEpochMs`; none records normal operation with unrelated complaints only. */
  scenarios: readonly Scenario[];
  /** Simulated epoch ms the scenarios' offsets count from: the end of the warm-up. */
  startEpochMs: number;
  /** Simulated seconds recorded from `startEpochMs`. */
  durationS: number;
  /** Seed of demand noise and complaints; default the first scenario's seed, else 1. */
  seed?: number;
  /** Simulated seconds between two readings of every tag (default 60). */
  sampleIntervalS?: number;
  /**
   * Simulated hours of normal operation recorded before `startEpochMs` (default 0), so that
   * baselines learned from history (flow profiles, night flow) have something to learn.
   */
  warmupHours?: number;
  /** How synthetic customers complain; default the first scenario's `complaints`, else the schema's defaults. */
  complaintSettings?: ComplaintSettings;
  /**
   * What a tag of a PLC that a scenario took offline records: `bad` (default) a sample with no
   * value and bad quality, as a connector publishes a failed read; `none` no sample at all.
   */
  offlineSamples?: 'bad' | 'none';
  /** The hydraulic network (.inp path or text); default the demo town's. */
  network?: HydraulicPlantOptions['network'];
}

export interface Recording {
  seed: number;
  /** Simulated epoch ms: where the warm-up begins, where the scenarios begin, where the recording ends. */
  warmupStartMs: number;
  startMs: number;
  endMs: number;
  sampleIntervalS: number;
  /** Every tag's readings in time order (ties in site tag order), warm-up included. */
  samples: EngineSample[];
  /** How many of `samples`, from the first, lie before `startMs` (the warm-up). */
  warmupSampleCount: number;
  /** Complaints reported from `startMs` on, in report order. */
  complaints: RecordedComplaint[];
  /** By complaint id: the scenario the generator attributes it to, null for unrelated complaints. */
  complaintScenarios: Record<string, string | null>;
  /** One record per (scenario, event), the last written (so cut-short and open-ended events carry their actual end). */
  groundTruth: GroundTruthRecord[];
}

const QUALITY_CODE: Record<SimulatedQuality, 0 | 1 | 2> = { good: 0, uncertain: 1, bad: 2 };
const QUALITY_NAME = ['good', 'uncertain', 'bad'] as const;

export async function recordScenario(options: RecordingOptions): Promise<Recording> {
  const { site, scenarios } = options;
  const sampleIntervalS = options.sampleIntervalS ?? 60;
  const warmupS = Math.round((options.warmupHours ?? 0) * 3600);
  if (!(sampleIntervalS >= 1 && Number.isInteger(sampleIntervalS))) throw new RangeError(`sampleIntervalS must be a whole number of seconds >= 1, got ${sampleIntervalS}`);
  if (!(options.durationS > 0)) throw new RangeError(`durationS must be positive, got ${options.durationS}`);
  if (!(warmupS >= 0)) throw new RangeError(`warmupHours must not be negative, got ${options.warmupHours}`);
  const seed = options.seed ?? scenarios[0]?.seed ?? 1;
  const warmupStartMs = options.startEpochMs - warmupS * 1000;
  const totalS = warmupS + options.durationS;

  const plant = await HydraulicPlant.open(site, {
    clockMode: 'stepped',
    startEpochMs: warmupStartMs,
    seed,
    ...(options.network === undefined ? {} : { network: options.network }),
  });
  try {
    const groundTruth = new MemorySink<GroundTruthRecord>();
    const offlineDevices = new Set<string>();
    const player = new ScenarioPlayer({
      plant,
      site,
      groundTruth,
      plcLinks: { setOffline: (device, offline) => void (offline ? offlineDevices.add(device) : offlineDevices.delete(device)) },
    });
    player.attach();
    for (const scenario of scenarios) player.add(scenario, { startSimTimeS: warmupS });

    const complaints: RecordedComplaint[] = [];
    const complaintScenarios: Record<string, string | null> = {};
    const generator = new ComplaintGenerator({
      model: plant.model,
      site,
      seed,
      incidents: player,
      settings: options.complaintSettings ?? scenarios[0]?.complaints ?? complaintSettingsSchema.parse({}),
      // As the live simulator names them: recordings of another seed or start never collide.
      idPrefix: `sim-${seed}-${options.startEpochMs}`,
      sink: {
        write({ scenario_id: scenarioId, ...body }) {
          const id = body.external_id;
          complaints.push({ id, ...body });
          complaintScenarios[id] = scenarioId;
        },
      },
    });

    const samples: EngineSample[] = [];
    let warmupSampleCount = 0;
    const sampleAll = (simTimeS: number): void => {
      const timeMs = warmupStartMs + simTimeS * 1000;
      for (const tag of site.tags) {
        if (tag.device !== undefined && offlineDevices.has(tag.device)) {
          if (options.offlineSamples !== 'none') samples.push({ tag: tag.id, timeMs, value: null, quality: 2 });
          continue;
        }
        const reading = plant.read(tag.id);
        samples.push({ tag: tag.id, timeMs, value: reading.value, quality: QUALITY_CODE[reading.quality] });
      }
      if (simTimeS < warmupS) warmupSampleCount = samples.length;
    };

    plant.start();
    sampleAll(0);
    for (let simTimeS = sampleIntervalS; simTimeS <= totalS; simTimeS += sampleIntervalS) {
      plant.clock.step(sampleIntervalS);
      // Customers are watched once a minute of simulated time at most, as in the live simulator;
      // only from the scenarios' start, so the warm-up brings no complaints.
      if (simTimeS >= warmupS) generator.observe(warmupStartMs + simTimeS * 1000);
      sampleAll(simTimeS);
    }
    const endS = Math.floor(totalS / sampleIntervalS) * sampleIntervalS;
    player.stopAll(endS);

    return {
      seed,
      warmupStartMs,
      startMs: options.startEpochMs,
      endMs: warmupStartMs + endS * 1000,
      sampleIntervalS,
      samples,
      warmupSampleCount,
      complaints,
      complaintScenarios,
      groundTruth: lastRecordPerEvent(groundTruth.records),
    };
  } finally {
    plant.stop();
  }
}

function lastRecordPerEvent(records: readonly GroundTruthRecord[]): GroundTruthRecord[] {
  const byEvent = new Map<string, GroundTruthRecord>();
  for (const record of records) byEvent.set(`${record.scenario}\u0000${record.event}`, record);
  return [...byEvent.values()];
}

/** One CSV line per sample, long form, as `tirta replay` reads it. */
export function telemetryCsvLines(samples: Iterable<EngineSample>): Iterable<string> {
  return (function* () {
    yield 'time,tag,value,quality\n';
    for (const sample of samples) yield `${new Date(sample.timeMs).toISOString()},${sample.tag},${sample.value ?? ''},${QUALITY_NAME[sample.quality]}\n`;
  })();
}

/** One JSON line per complaint, as `tirta replay --complaints` reads it. */
export function complaintsJsonLines(complaints: Iterable<RecordedComplaint>): Iterable<string> {
  return (function* () {
    for (const complaint of complaints) yield `${JSON.stringify(complaint)}\n`;
  })();
}

/** One JSON line per ground-truth record, the shape the simulator writes. */
export function groundTruthJsonLines(records: Iterable<GroundTruthRecord>): Iterable<string> {
  return (function* () {
    for (const record of records) yield `${JSON.stringify(record)}\n`;
  })();
}

export async function writeTelemetryCsv(file: string, samples: Iterable<EngineSample>): Promise<void> {
  await writeLines(file, telemetryCsvLines(samples));
}

export async function writeComplaintsJsonl(file: string, complaints: Iterable<RecordedComplaint>): Promise<void> {
  await writeLines(file, complaintsJsonLines(complaints));
}

export async function writeGroundTruthJsonl(file: string, records: Iterable<GroundTruthRecord>): Promise<void> {
  await writeLines(file, groundTruthJsonLines(records));
}

/** The recording's files in `dir`: telemetry.csv, complaints.jsonl, ground-truth.jsonl. */
export async function writeRecording(dir: string, recording: Recording): Promise<{ telemetryFile: string; complaintsFile: string; groundTruthFile: string }> {
  await mkdir(dir, { recursive: true });
  const files = { telemetryFile: path.join(dir, 'telemetry.csv'), complaintsFile: path.join(dir, 'complaints.jsonl'), groundTruthFile: path.join(dir, 'ground-truth.jsonl') };
  await writeTelemetryCsv(files.telemetryFile, recording.samples);
  await writeComplaintsJsonl(files.complaintsFile, recording.complaints);
  await writeGroundTruthJsonl(files.groundTruthFile, recording.groundTruth);
  return files;
}

// Lines are batched into large writes: a month of one-minute samples is millions of lines.
async function writeLines(file: string, lines: Iterable<string>): Promise<void> {
  const stream = createWriteStream(file, { encoding: 'utf8' });
  const failed = new Promise<never>((_, reject) => stream.once('error', reject));
  failed.catch(() => undefined);
  let batch: string[] = [];
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const chunk = batch.join('');
    batch = [];
    if (!stream.write(chunk)) await Promise.race([once(stream, 'drain'), failed]);
  };
  for (const line of lines) {
    batch.push(line);
    if (batch.length >= 10_000) await flush();
  }
  await flush();
  stream.end();
  await Promise.race([once(stream, 'finish'), failed]);
}
