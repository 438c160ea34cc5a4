// `tirta replay`: the engine that runs live, run offline over recorded telemetry and complaints
// on their own event time. Same inputs, same output: no wall clock is read, and inputs reach the
// engine in one order (samples by time, ties in file order; complaints by report time).
import { writeFile } from 'node:fs/promises';
import { anomalyToJson, type Anomaly } from '../contracts/anomaly.js';
import { incidentToJson, workOrderToJson, type EngineComplaint } from '../contracts/incident.js';
import type { SiteConfig } from '../contracts/site.js';
import { locateComplaints } from '../complaints/complaint-location.js';
import type { AccountPlace } from '../complaints/customer-accounts.js';
import { StreetGeocoder } from '../complaints/geocoder.js';
import { accountKey } from '../contracts/customers.js';
import { CorrelationResults } from '../engine/correlation/correlation-results.js';
import { complainantOf, EventTimeEngine } from '../engine/event-time-engine.js';
import { readComplaintsJsonl, type ReplayComplaint } from './complaints-jsonl.js';
import { readTelemetryCsv } from './telemetry-csv.js';

export interface ReplayProgress {
  phase: 'reading' | 'replaying' | 'done';
  done: number;
  total: number;
  anomalies: number;
  incidents: number;
}

export interface ReplayInput {
  site: SiteConfig;
  telemetryFile: string;
  complaintsFile?: string;
  onProgress?: (progress: ReplayProgress) => void;
}

const PROGRESS_EVERY_SAMPLES = 250_000;

export function replayOutput(anomalies: Iterable<Anomaly>, results: CorrelationResults) {
  return {
    anomalies: [...anomalies].sort((a, b) => a.startMs - b.startMs || (a.id < b.id ? -1 : 1)).map(anomalyToJson),
    incidents: results.incidents().map(incidentToJson),
    work_orders: results.workOrders().map(workOrderToJson),
  };
}
export type ReplayOutput = ReturnType<typeof replayOutput>;

export async function runReplay(input: ReplayInput): Promise<ReplayOutput & { unknownTags: Record<string, number> }> {
  const { site, onProgress } = input;
  const anomalies = new Map<string, Anomaly>();
  const incidentIds = new Set<string>();
  const results = new CorrelationResults();
  const engine = new EventTimeEngine(site, {
    anomaly: (event) => anomalies.set(event.anomaly.id, event.anomaly),
    correlation: (event) => {
      results.take(event);
      if (event.type === 'incident_opened') incidentIds.add(event.incident.id);
    },
  });
  const progress = (phase: ReplayProgress['phase'], done: number, total: number) => onProgress?.({ phase, done, total, anomalies: anomalies.size, incidents: incidentIds.size });

  const complaints = input.complaintsFile === undefined ? [] : await readComplaintsJsonl(input.complaintsFile);
  const columns = await readTelemetryCsv(input.telemetryFile, { knownTags: new Set(site.tags.map((tag) => tag.id)), onProgress: (lines) => progress('reading', lines, 0) });
  for (const complaint of await engineComplaints(complaints, site)) engine.complaint(complaint);

  const { length, tags, tagIndex, timeMs, value, quality } = columns;
  let currentTime = Number.NEGATIVE_INFINITY;
  for (let index = 0; index < length; index += 1) {
    const time = timeMs[index]!;
    if (time !== currentTime) {
      engine.advanceTo(time);
      currentTime = time;
    }
    const sampleValue = value[index]!;
    engine.observe({ tag: tags[tagIndex[index]!]!, timeMs: time, value: Number.isNaN(sampleValue) ? null : sampleValue, quality: quality[index] as 0 | 1 | 2 });
    if ((index + 1) % PROGRESS_EVERY_SAMPLES === 0) progress('replaying', index + 1, length);
  }
  engine.finish();
  progress('done', length, length);
  return { ...replayOutput(anomalies.values(), results), unknownTags: Object.fromEntries(columns.unknownTagSamples) };
}

/**
 * Recorded complaints as the engine takes them, located the way the API locates them: coordinates
 * by zone polygon, accounts from the site file's inline directory, addresses by its streets.
 */
export async function engineComplaints(complaints: readonly ReplayComplaint[], site: SiteConfig): Promise<EngineComplaint[]> {
  const directory = new Map(site.customers.accounts.map((account): [string, AccountPlace] => [accountKey(account.account), { account: account.account, zone: account.zone, lat: account.location?.lat ?? null, lon: account.location?.lon ?? null }]));
  const located = await locateComplaints(complaints.map((complaint) => complaint.location), site, {
    findAccounts: async (accounts) => new Map(accounts.flatMap((account) => {
      const place = directory.get(accountKey(account));
      return place === undefined ? [] : [[accountKey(account), place] as [string, AccountPlace]];
    })),
    geocoder: new StreetGeocoder(site.customers.streets),
  });
  return complaints.map((complaint, index) => {
    const { placement } = located[index]!;
    return {
      id: complaint.id,
      category: complaint.category,
      zone: placement.zone,
      location: placement.lat === null || placement.lon === null ? null : { lat: placement.lat, lon: placement.lon },
      reportedAtMs: Date.parse(complaint.reported_at),
      complainant: complainantOf(complaint),
    };
  });
}

export async function writeReplayOutput(file: string, output: ReplayOutput): Promise<void> {
  await writeFile(file, `${JSON.stringify({ anomalies: output.anomalies, incidents: output.incidents, work_orders: output.work_orders }, null, 2)}\n`);
}
