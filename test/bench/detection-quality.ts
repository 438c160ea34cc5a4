// Detection quality: the scenario library played on the demo town's hydraulic model, recorded,
// and run through the event-time engine as `tirta replay` runs it; the engine's incidents and
// work orders are then scored against the simulator's ground truth. docs/detection-quality.md
// states the suite and every matching rule, and holds the latest table.
//
// One recording per seed: two weeks of normal operation that the engine learns its baselines
// from (as the live engine learns stored history), then the suite, one scenario per day slot,
// in an order rotated per seed so that each scenario meets other days and hours. Paying the
// warm-up once per seed rather than once per scenario is what keeps the run within minutes.
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { isSensorFault, type Anomaly } from '../../src/contracts/anomaly.js';
import type { Incident, WorkOrderOpening } from '../../src/contracts/incident.js';
import { complaintSettingsSchema, parseScenario, type Scenario, type ScenarioEvent } from '../../src/contracts/scenario.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { loadSiteConfig } from '../../src/config/site-loader.js';
import { CorrelationResults } from '../../src/engine/correlation/correlation-results.js';
import { EventTimeEngine } from '../../src/engine/event-time-engine.js';
import { engineComplaints } from '../../src/replay/replay.js';
import type { GroundTruthRecord } from '../../simulators/scenarios/ground-truth.js';
import { recordScenario, type Recording } from '../../simulators/scenarios/scenario-recorder.js';
import type { BenchmarkResult, Figure } from './benchmarks.js';

const HOUR_MS = 3_600_000;
const DAY_S = 86_400;
const SITE_FILE = 'config/demo-town.yaml';

/** Seeds of demand noise and complaints, with the local hour at which each seed's day slots begin. */
export const QUALITY_SEEDS: ReadonlyArray<{ seed: number; slotHour: number }> = [
  { seed: 11, slotHour: 9 },
  { seed: 12, slotHour: 2 },
  { seed: 13, slotHour: 16 },
];
/** Covers every hourly bucket of every weekday twice: what the flow profile needs before it judges (24 five-minute means per bucket). */
export const WARMUP_DAYS = 15;
/** Monday 2026-03-16 00:00 in Jakarta: the suite starts here, at each seed's slot hour. */
const SUITE_MONDAY_MS = Date.parse('2026-03-16T00:00:00+07:00');
const SLOT_S = DAY_S;
/** Detectors date an anomaly from the last normal sample or the start of its flow step, which can lie a few minutes before the event. */
export const MATCH_LEAD_MS = 10 * 60_000;
/** An anomaly starting this long after an event's end is still its consequence (pressure recovering, a tank refilling). */
export const MATCH_GRACE_MS = 30 * 60_000;
/** Open-ended leaks are given an end, so that one slot's leak does not run into the next. */
const OPEN_LEAK_DURATION_S = 12 * 3600;

export const HYDRAULIC_EVENT_KINDS: ReadonlySet<string> = new Set(['leak', 'burst', 'pump_trip', 'valve_closure', 'tank_drain', 'demand_surge']);

/** The suite: scenario files of config/scenarios, some derived, plus a day with no event at all. */
export async function qualitySuite(): Promise<Array<Scenario | null>> {
  const load = async (name: string) => parseScenario(await readFile(`config/scenarios/${name}.yaml`, 'utf8'), `config/scenarios/${name}.yaml`);
  const withEnd = (scenario: Scenario): Scenario => ({ ...scenario, events: scenario.events.map((event) => ({ ...event, durationS: event.durationS ?? OPEN_LEAK_DURATION_S }) as ScenarioEvent) });
  const leakSmall = withEnd(await load('leak-small'));
  const leakMedium: Scenario = {
    ...leakSmall,
    id: 'leak-medium',
    description: 'Fixed leak at J-D1-030 in DMA 1 Merdeka, three times leak-small.',
    events: leakSmall.events.map((event) => (event.kind === 'leak' ? { ...event, coefficient: 4.5 } : event)),
  };
  return [leakSmall, leakMedium, await load('leak-growing'), await load('burst-dma-2'), await load('pump-trip'), await load('sensor-faults'), null];
}

export const NORMAL_DAY = 'normal-day';

interface SlotPlan {
  /** The scenario's id, or NORMAL_DAY for the slot without events. */
  name: string;
  startMs: number;
  endMs: number;
}

/** Records one seed's run: warm-up, then the suite a slot a day, rotated by `rotation`. */
export async function recordSuite(site: SiteConfig, suite: ReadonlyArray<Scenario | null>, seed: number, slotHour: number, rotation: number): Promise<{ recording: Recording; slots: SlotPlan[] }> {
  const order = suite.map((_, index) => suite[(index + rotation) % suite.length]!);
  const startEpochMs = SUITE_MONDAY_MS + slotHour * HOUR_MS;
  const scenarios: Scenario[] = [];
  const slots: SlotPlan[] = [];
  order.forEach((scenario, slot) => {
    const offsetS = slot * SLOT_S;
    slots.push({ name: scenario?.id ?? NORMAL_DAY, startMs: startEpochMs + offsetS * 1000, endMs: startEpochMs + (offsetS + SLOT_S) * 1000 });
    if (scenario !== null) scenarios.push({ ...scenario, events: scenario.events.map((event) => ({ ...event, atS: event.atS + offsetS })) });
  });
  const recording = await recordScenario({
    site,
    scenarios,
    seed,
    startEpochMs,
    durationS: order.length * SLOT_S,
    warmupHours: WARMUP_DAYS * 24 + slotHour,
    complaintSettings: complaintSettingsSchema.parse({}),
  });
  return { recording, slots };
}

export interface EngineRun {
  anomalies: Map<string, Anomaly>;
  incidents: Incident[];
  workOrders: WorkOrderOpening[];
  /** Merged-away incident id → the incident it ended up in. */
  mergedInto: Map<string, string>;
}

/**
 * The engine over a recording: baselines learned from the warm-up, as the live engine learns
 * stored history; then exactly the calls `runReplay` makes (every complaint first, then samples
 * in time order with the watermark moved to each new time, then finish).
 */
export async function runEngine(site: SiteConfig, recording: Recording): Promise<EngineRun> {
  const anomalies = new Map<string, Anomaly>();
  const mergedInto = new Map<string, string>();
  const results = new CorrelationResults();
  const engine = new EventTimeEngine(site, {
    anomaly: (event) => anomalies.set(event.anomaly.id, event.anomaly),
    correlation: (event) => {
      results.take(event);
      if (event.type === 'incidents_merged') mergedInto.set(event.from, event.into);
    },
  });
  engine.learn(recording.samples.slice(0, recording.warmupSampleCount));
  for (const complaint of await engineComplaints(recording.complaints, site)) engine.complaint(complaint);
  let currentTime = Number.NEGATIVE_INFINITY;
  for (let index = recording.warmupSampleCount; index < recording.samples.length; index += 1) {
    const sample = recording.samples[index]!;
    if (sample.timeMs !== currentTime) {
      engine.advanceTo(sample.timeMs);
      currentTime = sample.timeMs;
    }
    engine.observe(sample);
  }
  engine.finish();
  return { anomalies, incidents: results.incidents(), workOrders: results.workOrders(), mergedInto };
}

// --- scoring -------------------------------------------------------------------------------

export interface TruthEvent {
  scenario: string;
  event: string;
  kind: string;
  zone: string | null;
  /** The faulty tag of a sensor fault. */
  tag: string | null;
  startMs: number;
  endMs: number;
}

export interface EventOutcome extends TruthEvent {
  incidentIds: string[];
  /** Event start to the first work order of a matching incident; null without one. */
  toWorkOrderMs: number | null;
  /** That work order's job. */
  jobType: string | null;
}

export interface SensorFaultOutcome extends TruthEvent {
  /** Work orders whose incident holds an anomaly of the faulty tag that started within the fault's window. */
  workOrderIds: string[];
  /** Whether a sensor-fault anomaly flagged the tag within the window. */
  flagged: boolean;
}

export interface RunScore {
  seed: number;
  events: EventOutcome[];
  sensorFaults: SensorFaultOutcome[];
  /** Incidents with their slot and whether they match a hydraulic event. */
  incidents: Array<{ id: string; slot: string; kind: string; zone: string | null; verified: boolean; matched: boolean; workOrder: boolean }>;
  complaints: Array<{ id: string; slot: string; scenario: string | null; incidentId: string | null; correct: boolean }>;
}

export function truthEvents(records: readonly GroundTruthRecord[], recordingEndMs: number): TruthEvent[] {
  return records.map((record) => ({
    scenario: record.scenario,
    event: record.event,
    kind: record.kind,
    zone: record.zone,
    tag: typeof record.where.tag === 'string' ? record.where.tag : null,
    startMs: Date.parse(record.start),
    endMs: record.end === null ? recordingEndMs : Date.parse(record.end),
  }));
}

const inWindow = (timeMs: number, event: TruthEvent): boolean => timeMs >= event.startMs - MATCH_LEAD_MS && timeMs <= event.endMs + MATCH_GRACE_MS;

/** What an incident holds, as the matching rule reads it. */
export interface IncidentEvidence {
  zone: string | null;
  anomalyStartsMs: readonly number[];
  /** The scenarios the generator attributed the incident's complaints to (null for unrelated ones). */
  complaintScenarios: ReadonlyArray<string | null>;
}

/**
 * An incident matches a hydraulic event when it lies in the event's zone (any zone for an event
 * with none, such as a pump trip) and holds evidence of it: an anomaly that started within the
 * event's window, or a complaint the generator attributed to the event's scenario.
 */
export function incidentMatches(incident: IncidentEvidence, event: TruthEvent): boolean {
  if (event.zone !== null && incident.zone !== event.zone) return false;
  return incident.anomalyStartsMs.some((timeMs) => inWindow(timeMs, event)) || incident.complaintScenarios.includes(event.scenario);
}

/** The job a work order for an event of this kind should be. */
export const EXPECTED_JOB_TYPES: Readonly<Record<string, readonly string[]>> = {
  burst: ['burst_repair'],
  leak: ['leak_repair'],
  pump_trip: ['pump_repair'],
  valve_closure: ['no_water_investigation', 'pressure_investigation'],
  tank_drain: ['no_water_investigation', 'pump_repair'],
  demand_surge: ['pressure_investigation'],
};

export function scoreRun(seed: number, recording: Recording, slots: readonly SlotPlan[], run: EngineRun): RunScore {
  const truth = truthEvents(recording.groundTruth, recording.endMs);
  const hydraulic = truth.filter((event) => HYDRAULIC_EVENT_KINDS.has(event.kind));
  const complaintTimes = new Map(recording.complaints.map((complaint) => [complaint.id, Date.parse(complaint.reported_at)]));
  const anomalyStarts = (incident: Incident): number[] => incident.anomalyIds.flatMap((id) => {
    const anomaly = run.anomalies.get(id);
    return anomaly === undefined ? [] : [anomaly.startMs];
  });
  const slotAt = (timeMs: number): string => slots.find((slot) => timeMs >= slot.startMs && timeMs < slot.endMs)?.name ?? 'after';
  const finalIncident = (id: string): string => {
    let current = id;
    for (let next = run.mergedInto.get(current); next !== undefined; next = run.mergedInto.get(current)) current = next;
    return current;
  };
  const ordersByIncident = new Map<string, WorkOrderOpening[]>();
  for (const order of run.workOrders) {
    const incidentId = finalIncident(order.incidentId);
    ordersByIncident.set(incidentId, [...(ordersByIncident.get(incidentId) ?? []), order]);
  }

  const matchesOf = new Map<string, TruthEvent[]>();
  const incidents = run.incidents.map((incident) => {
    const anomalyStartsMs = anomalyStarts(incident);
    const evidence = { zone: incident.zone, anomalyStartsMs, complaintScenarios: incident.complaintIds.map((id) => recording.complaintScenarios[id] ?? null) };
    const matched = hydraulic.filter((event) => incidentMatches(evidence, event));
    matchesOf.set(incident.id, matched);
    return { id: incident.id, slot: slotAt(incident.openedAtMs), kind: incident.kind, zone: incident.zone, verified: incident.verified, matched: matched.length > 0, workOrder: ordersByIncident.has(incident.id) };
  });

  const events: EventOutcome[] = hydraulic.map((event) => {
    const incidentIds = run.incidents.filter((incident) => matchesOf.get(incident.id)!.includes(event)).map((incident) => incident.id);
    const orders = incidentIds.flatMap((id) => ordersByIncident.get(id) ?? []).sort((a, b) => a.createdAtMs - b.createdAtMs);
    const first = orders[0];
    // An order that an incident already had before the event began counts as immediate.
    return { ...event, incidentIds, toWorkOrderMs: first === undefined ? null : Math.max(0, first.createdAtMs - event.startMs), jobType: first?.jobType ?? null };
  });

  const sensorFaults: SensorFaultOutcome[] = truth
    .filter((event) => event.kind === 'sensor_fault')
    .map((event) => {
      const onTag = (id: string): boolean => {
        const anomaly = run.anomalies.get(id);
        return anomaly !== undefined && anomaly.tag === event.tag && inWindow(anomaly.startMs, event);
      };
      const workOrderIds = run.incidents.filter((incident) => incident.anomalyIds.some(onTag)).flatMap((incident) => (ordersByIncident.get(incident.id) ?? []).map((order) => order.id));
      const flagged = [...run.anomalies.values()].some((anomaly) => isSensorFault(anomaly.kind) && anomaly.tag === event.tag && inWindow(anomaly.startMs, event));
      return { ...event, workOrderIds, flagged };
    });

  const incidentOfComplaint = new Map<string, string>();
  for (const incident of run.incidents) for (const id of incident.complaintIds) incidentOfComplaint.set(id, incident.id);
  const complaints = recording.complaints.map((complaint) => {
    const scenario = recording.complaintScenarios[complaint.id] ?? null;
    const incidentId = incidentOfComplaint.get(complaint.id) ?? null;
    const matched = incidentId === null ? [] : matchesOf.get(incidentId)!;
    const correct = scenario === null ? matched.length === 0 : matched.some((event) => event.scenario === scenario);
    return { id: complaint.id, slot: slotAt(complaintTimes.get(complaint.id)!), scenario, incidentId, correct };
  });

  return { seed, events, sensorFaults, incidents, complaints };
}

// --- summary -------------------------------------------------------------------------------

export interface QualitySummary {
  figures: Figure[];
  /** Markdown: one row per scenario. */
  scenarioTable: string;
}

const percent = (part: number, whole: number): number => (whole === 0 ? Number.NaN : (100 * part) / whole);
const minutes = (ms: number): number => ms / 60_000;

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function formatMinutes(ms: number): string {
  return Number.isNaN(ms) ? '–' : `${Math.round(minutes(ms))} min`;
}

export function summarize(runs: readonly RunScore[], scenarioNames: readonly string[]): QualitySummary {
  const events = runs.flatMap((run) => run.events);
  const faults = runs.flatMap((run) => run.sensorFaults);
  const incidents = runs.flatMap((run) => run.incidents);
  const complaints = runs.flatMap((run) => run.complaints);
  const detected = events.filter((event) => event.incidentIds.length > 0);
  const toOrders = events.flatMap((event) => (event.toWorkOrderMs === null ? [] : [event.toWorkOrderMs]));
  const attributed = complaints.filter((complaint) => complaint.scenario !== null);
  const noise = complaints.filter((complaint) => complaint.scenario === null);
  const faultsWithoutOrder = faults.filter((fault) => fault.workOrderIds.length === 0);
  const unmatched = incidents.filter((incident) => !incident.matched);
  const unmatchedOrders = unmatched.filter((incident) => incident.workOrder);
  const withOrder = events.filter((event) => event.jobType !== null);
  const rightJob = withOrder.filter((event) => EXPECTED_JOB_TYPES[event.kind]?.includes(event.jobType!) === true);
  const kinds = [...new Set(events.map((event) => event.kind))];
  const byKind = kinds.map((kind) => {
    const ofKind = events.filter((event) => event.kind === kind);
    return `${kind} ${ofKind.filter((event) => event.incidentIds.length > 0).length}/${ofKind.length}`;
  });
  const runsNote = `${runs.length} seeds × ${scenarioNames.length} day slots after ${WARMUP_DAYS} days of learned history`;

  const figures: Figure[] = [
    { name: 'incident recall', value: percent(detected.length, events.length), unit: '%', note: `${detected.length} of ${events.length} hydraulic events got an incident in their zone and window (${byKind.join(', ')}); ${runsNote}` },
    {
      name: 'incident precision',
      value: percent(incidents.filter((incident) => incident.matched).length, incidents.length),
      unit: '%',
      note: `${incidents.filter((incident) => incident.matched).length} of ${incidents.length} incidents match a hydraulic event; of the others ${unmatched.filter((incident) => !incident.verified).length} are unverified complaint clusters and ${unmatched.filter((incident) => incident.verified && incident.zone === null).length} network-wide (no zone)`,
    },
    {
      name: 'complaint assignment accuracy',
      value: percent(complaints.filter((complaint) => complaint.correct).length, complaints.length),
      unit: '%',
      note: `event complaints in their event's incident ${attributed.filter((complaint) => complaint.correct).length}/${attributed.length}; unrelated complaints kept out of event incidents ${noise.filter((complaint) => complaint.correct).length}/${noise.length}`,
    },
    { name: 'median time from event start to work order', value: minutes(median(toOrders)), unit: 'min', note: `over the ${toOrders.length} of ${events.length} hydraulic events that got a work order` },
    { name: 'work orders with the right job', value: percent(rightJob.length, withOrder.length), unit: '%', note: `first work order of each event: ${withOrder.map((event) => `${event.kind}→${event.jobType}`).filter((pair, index, all) => all.indexOf(pair) === index).join(', ')}` },
    { name: 'sensor faults kept out of work orders', value: percent(faultsWithoutOrder.length, faults.length), unit: '%', note: `${faultsWithoutOrder.length} of ${faults.length} instrument faults opened no work order through an anomaly of the faulty tag` },
    { name: 'sensor faults flagged', value: percent(faults.filter((fault) => fault.flagged).length, faults.length), unit: '%', note: `instrument faults with a sensor anomaly on the faulty tag in their window` },
    { name: 'work orders matching no event', value: unmatchedOrders.length, unit: 'work orders', note: `false dispatches over ${runs.length * scenarioNames.length} simulated days (${unmatchedOrders.filter((incident) => incident.zone === null).length} network-wide)` },
  ];

  const rows = scenarioNames.map((name) => {
    const ofEvents = events.filter((event) => event.scenario === name);
    const ofFaults = faults.filter((fault) => fault.scenario === name);
    const ofIncidents = incidents.filter((incident) => incident.slot === name);
    const ofComplaints = complaints.filter((complaint) => complaint.slot === name);
    const ofAttributed = ofComplaints.filter((complaint) => complaint.scenario !== null);
    const ofOrders = ofEvents.flatMap((event) => (event.toWorkOrderMs === null ? [] : [event.toWorkOrderMs]));
    const recall = ofEvents.length === 0 ? '–' : `${ofEvents.filter((event) => event.incidentIds.length > 0).length}/${ofEvents.length}`;
    const faultsOut = ofFaults.length === 0 ? '–' : `${ofFaults.filter((fault) => fault.workOrderIds.length === 0).length}/${ofFaults.length}`;
    const flagged = ofFaults.length === 0 ? '–' : `${ofFaults.filter((fault) => fault.flagged).length}/${ofFaults.length}`;
    return `| ${name} | ${recall} | ${ofIncidents.filter((incident) => incident.matched).length}/${ofIncidents.length} | ${ofComplaints.filter((complaint) => complaint.correct).length}/${ofComplaints.length} (${ofAttributed.length} about the event) | ${formatMinutes(median(ofOrders))} | ${faultsOut} | ${flagged} | ${ofIncidents.filter((incident) => incident.workOrder && !incident.matched).length} |`;
  });
  const scenarioTable = [
    '| scenario | events with an incident | incidents matching an event | complaints assigned right | median to work order | sensor faults without work order | sensor faults flagged | work orders matching no event |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
  ].join('\n');

  for (const name of scenarioNames) {
    const ofEvents = events.filter((event) => event.scenario === name);
    const ofIncidents = incidents.filter((incident) => incident.slot === name);
    const ofOrders = ofEvents.flatMap((event) => (event.toWorkOrderMs === null ? [] : [event.toWorkOrderMs]));
    const ofFaults = faults.filter((fault) => fault.scenario === name);
    const parts = [
      ofEvents.length > 0 ? `${ofEvents.filter((event) => event.incidentIds.length > 0).length}/${ofEvents.length} events with an incident` : null,
      ofEvents.length > 0 ? `median to work order ${formatMinutes(median(ofOrders))}` : null,
      ofFaults.length > 0 ? `${ofFaults.filter((fault) => fault.workOrderIds.length === 0).length}/${ofFaults.length} faults without work order, ${ofFaults.filter((fault) => fault.flagged).length} flagged` : null,
      `${ofIncidents.length - ofIncidents.filter((incident) => incident.matched).length} incidents matching no event`,
    ].filter((part) => part !== null);
    // Each slot's headline: recall where it has events, else what it must not produce.
    if (ofEvents.length > 0) figures.push({ name: `${name}: events with an incident`, value: percent(ofEvents.filter((event) => event.incidentIds.length > 0).length, ofEvents.length), unit: '%', note: parts.join('; ') });
    else if (ofFaults.length > 0) figures.push({ name: `${name}: faults without work order`, value: percent(ofFaults.filter((fault) => fault.workOrderIds.length === 0).length, ofFaults.length), unit: '%', note: parts.join('; ') });
    else figures.push({ name: `${name}: incidents`, value: ofIncidents.length, unit: 'incidents', note: `${ofIncidents.filter((incident) => incident.workOrder).length} with a work order; ${runs.length} days with no event` });
  }
  return { figures, scenarioTable };
}

export async function measureDetectionQuality(log: (line: string) => void = () => undefined): Promise<{ result: BenchmarkResult; summary: QualitySummary; runs: RunScore[] }> {
  const site = await loadSiteConfig(SITE_FILE);
  const suite = await qualitySuite();
  const runs: RunScore[] = [];
  for (const [index, { seed, slotHour }] of QUALITY_SEEDS.entries()) {
    const startedAt = performance.now();
    const { recording, slots } = await recordSuite(site, suite, seed, slotHour, index * 2);
    const recordedAt = performance.now();
    const run = await runEngine(site, recording);
    runs.push(scoreRun(seed, recording, slots, run));
    log(`seed ${seed}: recorded ${recording.samples.length} samples and ${recording.complaints.length} complaints in ${((recordedAt - startedAt) / 1000).toFixed(1)} s, engine ${((performance.now() - recordedAt) / 1000).toFixed(1)} s`);
  }
  const summary = summarize(runs, suite.map((scenario) => scenario?.id ?? NORMAL_DAY));
  return { result: { name: 'detection-quality', figures: summary.figures }, summary, runs };
}

export async function detectionQuality(): Promise<BenchmarkResult> {
  return (await measureDetectionQuality((line) => console.error(`  ${line}`))).result;
}

// Run directly, it prints the per-scenario table and every run's events for the document.
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { summary, runs } = await measureDetectionQuality((line) => console.error(line));
  for (const figure of summary.figures) console.log(`${figure.name}: ${Number.isNaN(figure.value) ? '–' : figure.value.toFixed(1)} ${figure.unit} (${figure.note ?? ''})`);
  console.log(`\n${summary.scenarioTable}\n`);
  for (const run of runs) {
    for (const event of [...run.events, ...run.sensorFaults]) {
      const outcome = "incidentIds" in event ? `incidents ${event.incidentIds.length}, ${event.jobType ?? "no work order"} after ${event.toWorkOrderMs === null ? '–' : formatMinutes(event.toWorkOrderMs)}` : `work orders ${event.workOrderIds.length}, flagged ${event.flagged}`;
      console.log(`seed ${run.seed} ${event.scenario}/${event.event} ${event.kind} ${event.zone ?? event.tag ?? ''} ${new Date(event.startMs).toISOString()}: ${outcome}`);
    }
    for (const incident of run.incidents.filter((candidate) => !candidate.matched)) console.log(`seed ${run.seed} unmatched incident ${incident.id} ${incident.kind} ${incident.zone} in ${incident.slot}${incident.workOrder ? ' with work order' : ''}`);
  }
}
