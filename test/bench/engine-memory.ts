// What the engine's correlation holds over weeks: thirty simulated days of complaints, a burst a
// day, fed to the engine's correlator in event-time order; the heap retained after a full garbage
// collection is read at the end of each simulated day. The correlator keeps a complaint within
// reach of operator decisions for the decision window (7 days by default) and an incident until
// nothing can reach it, so the heap must stop growing once the first window has passed.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { AnomalyEvent, Anomaly } from '../../src/contracts/anomaly.js';
import type { EngineComplaint } from '../../src/contracts/incident.js';
import { loadSiteConfig } from '../../src/config/site-loader.js';
import { Correlator } from '../../src/engine/correlation/correlator.js';
import type { CorrelationEvent } from '../../src/contracts/incident.js';
import { mulberry32 } from '../../simulators/random.js';
import type { BenchmarkResult } from './benchmarks.js';
import { leastSquaresSlope } from './least-squares.js';

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;
const DAYS = 30;
/** Complaints a day about the daily burst, over its first two hours. */
const BURST_COMPLAINTS = 1500;
/** Complaints a day spread over the day and the zones, matching nothing. */
const SCATTERED_COMPLAINTS = 500;
const ADVANCE_EVERY_MS = 5 * MINUTE_MS;
const ZONES = ['dma-1', 'dma-2', 'dma-3'] as const;
/** Growth after the window below this is flat: what V8's own bookkeeping moves by from day to day. */
const FLAT_KIB_PER_DAY = 64;

type Input = { atMs: number; complaint: EngineComplaint } | { atMs: number; anomaly: AnomalyEvent };

/** One simulated day: a pressure drop in one zone with its complaints, and scattered complaints elsewhere. */
function dayInputs(day: number, startMs: number, random: () => number, pressureTags: ReadonlyMap<string, { lat: number; lon: number }>): Input[] {
  const dayStartMs = startMs + day * DAY_MS;
  const zone = ZONES[day % ZONES.length]!;
  const tag = `${zone}.pressure.1`;
  const centre = pressureTags.get(tag)!;
  const burstStartMs = dayStartMs + 8 * 3_600_000;
  const anomaly: Anomaly = { id: `${tag}:pressure_drop:${burstStartMs}`, kind: 'pressure_drop', tag, zone, startMs: burstStartMs, endMs: null, magnitude: 20, unit: 'm', confidence: 0.9, detail: 'pressure drop' };
  const inputs: Input[] = [
    { atMs: burstStartMs, anomaly: { type: 'opened', atMs: burstStartMs, anomaly } },
    { atMs: burstStartMs + 3 * 3_600_000, anomaly: { type: 'closed', atMs: burstStartMs + 3 * 3_600_000, anomaly: { ...anomaly, endMs: burstStartMs + 3 * 3_600_000 } } },
  ];
  const complaint = (index: number, reportedAtMs: number, complaintZone: string, place: { lat: number; lon: number }): EngineComplaint => ({
    id: `d${day}-c${index}`,
    category: random() < 0.6 ? 'no_water' : 'low_pressure',
    zone: complaintZone,
    location: { lat: place.lat + (random() - 0.5) * 0.004, lon: place.lon + (random() - 0.5) * 0.004 },
    reportedAtMs,
    complainant: `+62812${String(day * 10_000 + index).padStart(8, '0')}`,
  });
  for (let index = 0; index < BURST_COMPLAINTS; index += 1) {
    const reportedAtMs = burstStartMs + Math.floor(random() * 2 * 3_600_000);
    inputs.push({ atMs: reportedAtMs, complaint: complaint(index, reportedAtMs, zone, centre) });
  }
  for (let index = BURST_COMPLAINTS; index < BURST_COMPLAINTS + SCATTERED_COMPLAINTS; index += 1) {
    const other = ZONES[Math.floor(random() * ZONES.length)]!;
    const reportedAtMs = dayStartMs + Math.floor(random() * DAY_MS);
    // Far from the day's burst in time: overnight, when no anomaly is open.
    const shiftedMs = reportedAtMs >= burstStartMs - 2 * 3_600_000 && reportedAtMs < burstStartMs + 6 * 3_600_000 ? reportedAtMs + 10 * 3_600_000 : reportedAtMs;
    inputs.push({ atMs: shiftedMs, complaint: complaint(index, shiftedMs, other, pressureTags.get(`${other}.pressure.2`)!) });
  }
  return inputs.sort((a, b) => a.atMs - b.atMs);
}

export async function engineMemory(): Promise<BenchmarkResult> {
  setFlagsFromString('--expose-gc');
  const collectGarbage = runInNewContext('gc') as () => void;
  const retainedMiB = () => {
    collectGarbage();
    collectGarbage();
    return process.memoryUsage().heapUsed / 2 ** 20;
  };

  const site = await loadSiteConfig('config/demo-town.yaml');
  const pressureTags = new Map(site.tags.filter((tag) => tag.location !== undefined).map((tag) => [tag.id, tag.location!]));
  const random = mulberry32(7);
  const startMs = Date.UTC(2026, 0, 5);
  let incidentsOpened = 0;
  let workOrders = 0;
  const correlator = new Correlator(site);
  const count = (events: CorrelationEvent[]) => {
    for (const event of events) {
      if (event.type === 'incident_opened') incidentsOpened += 1;
      else if (event.type === 'work_order_opened') workOrders += 1;
    }
  };

  const baselineMiB = retainedMiB();
  const byDay: Array<{ x: number; y: number }> = [];
  let complaints = 0;
  const windowDays = Math.ceil(site.correlation.decision_window_ms / DAY_MS);
  let nextAdvanceMs = startMs;
  for (let day = 0; day < DAYS; day += 1) {
    for (const input of dayInputs(day, startMs, random, pressureTags)) {
      for (; nextAdvanceMs <= input.atMs; nextAdvanceMs += ADVANCE_EVERY_MS) count(correlator.advanceTo(nextAdvanceMs));
      if ('complaint' in input) {
        count(correlator.complaint(input.complaint));
        complaints += 1;
      } else {
        count(correlator.anomaly(input.anomaly));
      }
    }
    for (; nextAdvanceMs <= startMs + (day + 1) * DAY_MS; nextAdvanceMs += ADVANCE_EVERY_MS) count(correlator.advanceTo(nextAdvanceMs));
    const retainedNowMiB = retainedMiB() - baselineMiB;
    byDay.push({ x: day + 1, y: retainedNowMiB });
    const held = correlator.held();
    if ((day + 1) % 5 === 0) console.error(`  day ${day + 1}/${DAYS}: ${complaints.toLocaleString('en-US')} complaints fed, ${held.complaints.toLocaleString('en-US')} held, ${retainedNowMiB.toFixed(1)} MiB retained`);
  }
  const held = correlator.held();
  const afterWindow = byDay.filter(({ x: day }) => day > windowDays + 1);
  const growthKiBPerDay = leastSquaresSlope(afterWindow) * 1024;
  const peakMiB = Math.max(...byDay.map(({ y }) => y));
  const perComplaintB = (afterWindow.reduce((sum, { y }) => sum + y, 0) / afterWindow.length) * 2 ** 20 / ((BURST_COMPLAINTS + SCATTERED_COMPLAINTS) * windowDays);
  return {
    name: 'engine-memory',
    figures: [
      { name: 'retained heap, days 1 to 30', value: peakMiB, unit: 'MiB', note: `peak over ${DAYS} simulated days of ${(BURST_COMPLAINTS + SCATTERED_COMPLAINTS).toLocaleString('en-US')} complaints and a burst a day (${complaints.toLocaleString('en-US')} complaints, ${incidentsOpened} incidents, ${workOrders} work orders); read after a full garbage collection at the end of each day` },
      { name: 'retained heap growth after the decision window', value: growthKiBPerDay, unit: 'KiB/day', note: `least-squares slope over days ${windowDays + 2} to ${DAYS}; the window is ${windowDays} days; flat (under ${FLAT_KIB_PER_DAY} KiB/day) means the correlator lets go of what no input can reach: ${growthKiBPerDay < FLAT_KIB_PER_DAY ? 'flat' : 'not flat'}` },
      { name: 'retained heap per complaint in the window', value: perComplaintB, unit: 'B', note: `mean retained heap after the window divided by the complaints it holds; at the end it held ${held.complaints.toLocaleString('en-US')} complaints, ${held.openIncidents} open and ${held.closedIncidents} closed incidents` },
    ],
  };
}
