// Judges a scenario's expectations against what the API showed during and after the run: pure
// functions over readings, so a verdict can be replayed and tested from recorded answers.
//
// Times: every object counts by the system's own timestamp (an incident's opened_at, a work
// order's created_at, a complaint's reported_at), all in simulated time, and must be inside the
// window; the qualities asked for (priority, crew) must show in a reading taken by the end of the
// window plus `lagS`, the simulated time the pipeline needs to bring a change to the API.
import { formatDurationS } from '../contracts/duration.js';
import type { Expectation, ExpectationOf } from '../contracts/scenario-expectations.js';
import type { ApiIncident, ApiWorkOrder, FinalReading, Reading } from './api-readings.js';
import type { Evidence, ExpectationResult } from './results.js';

/** Detectors date an anomaly (and so an incident) from the last normal sample, a little before the event. */
export const LOOKBACK_S = 600;
/** How long after an instrument event ends an anomaly on it still counts as its doing (a sensor settling). */
const INSTRUMENT_AFTERMATH_S = 1800;

export interface ScenarioEventTiming {
  kind: string;
  startS: number;
  /** null: lasts to the end of the run. */
  endS: number | null;
  /** The instruments it breaks: a sensor_fault's tag, a plc_offline device's tags. */
  tags: string[];
}

/** A complaint the simulated customers reported about this scenario (the simulator's ground truth). */
export interface ScenarioComplaint {
  external_id: string;
  reported_at: string;
}

export interface CheckContext {
  /** Simulated epoch ms of the scenario's start (simulated second 0). */
  startEpochMs: number;
  lagS: number;
  runEndS: number;
  events: ReadonlyMap<string, ScenarioEventTiming>;
  readings: readonly Reading[];
  final: FinalReading;
  scenarioComplaints: readonly ScenarioComplaint[];
}

export function checkExpectation(expectation: Expectation, context: CheckContext): ExpectationResult {
  switch (expectation.kind) {
    case 'incident':
      return checkIncident(expectation, context);
    case 'work_order':
      return checkWorkOrder(expectation, context);
    case 'no_work_order':
      return checkNoWorkOrder(expectation, context);
    case 'complaints_linked':
      return checkComplaintsLinked(expectation, context);
  }
}

/** "+15m" from 900: simulated time from the scenario's start. */
export function simTime(seconds: number): string {
  return seconds < 0 ? `-${formatDurationS(-seconds)}` : `+${formatDurationS(seconds)}`;
}

function offsetS(iso: string, context: CheckContext): number {
  return (Date.parse(iso) - context.startEpochMs) / 1000;
}

function windowOf(expectation: Expectation, context: CheckContext) {
  const fromS = expectation.after === null ? 0 : context.events.get(expectation.after)!.startS;
  return { fromS, toS: fromS + expectation.withinS, after: expectation.after };
}

function windowText(window: { fromS: number; toS: number; after: string | null }): string {
  const origin = window.after === null ? 'the scenario\'s start' : `${window.after} (at ${simTime(window.fromS)})`;
  return `by ${simTime(window.toS)}, within ${formatDurationS(window.toS - window.fromS)} of ${origin}`;
}

/** Priorities as urgent as `wanted` or more (P1 is the most urgent). */
const atLeast = (priority: string, wanted: string | undefined) => wanted === undefined || priority <= wanted;

/** The readings taken by the end of the window, plus the last one: what the API showed in time. */
function readingsBy(context: CheckContext, toS: number): Reading[] {
  return context.readings.filter((reading) => reading.atS <= toS + context.lagS);
}

function checkIncident(expectation: ExpectationOf<'incident'>, context: CheckContext): ExpectationResult {
  const window = windowOf(expectation, context);
  const inZone = (incident: ApiIncident) => expectation.zone === undefined || incident.zone === expectation.zone;
  const opened = (incident: ApiIncident) => {
    const atS = offsetS(incident.opened_at, context);
    return atS >= window.fromS - LOOKBACK_S && atS <= window.toS;
  };
  const wanted = `an incident${expectation.zone === undefined ? '' : ` in zone ${expectation.zone}`}${expectation.priority === undefined ? '' : ` with priority ${expectation.priority}${expectation.priority === 'P1' ? '' : ' or more urgent'}`}`;
  const expected = `${wanted}, ${windowText(window)}`;
  const evidence = (incident: ApiIncident, seenS?: number): Evidence => ({
    type: 'incident',
    id: incident.id,
    at: incident.opened_at,
    atS: offsetS(incident.opened_at, context),
    detail: `zone ${incident.zone ?? 'none'}, priority ${incident.priority}${seenS === undefined ? '' : ` (shown at ${simTime(seenS)})`}`,
  });
  for (const reading of readingsBy(context, window.toS)) {
    const match = reading.incidents.find((incident) => inZone(incident) && opened(incident) && atLeast(incident.priority, expectation.priority));
    if (match !== undefined) {
      return { name: expectation.name, kind: 'incident', passed: true, expected, actual: `incident ${match.id} in zone ${match.zone ?? 'none'} opened at ${simTime(offsetS(match.opened_at, context))}, priority ${match.priority} shown at ${simTime(reading.atS)}`, window, evidence: [evidence(match, reading.atS)] };
    }
  }
  const inTime = latestStates(readingsBy(context, window.toS).map((reading) => reading.incidents)).filter((incident) => inZone(incident));
  const later = context.final.incidents.filter((incident) => inZone(incident) && !inTime.some((seen) => seen.id === incident.id && seen.priority === incident.priority));
  // The score and its reasons, so that a priority short of the one expected says by how much and why.
  const describe = (incident: ApiIncident) =>
    `${incident.id} (zone ${incident.zone ?? 'none'}, opened ${simTime(offsetS(incident.opened_at, context))}, priority ${incident.priority}, score ${incident.score}: ${incident.reasons.map((reason) => `${reason.factor} ${reason.points}`).join(', ')})`;
  const actual = [
    inTime.length === 0 ? `no incident${expectation.zone === undefined ? '' : ` in zone ${expectation.zone}`} by ${simTime(window.toS)}` : `by ${simTime(window.toS)}: ${inTime.map(describe).join('; ')}`,
    ...(later.length === 0 ? [] : [`later, by ${simTime(context.final.atS)}: ${later.map(describe).join('; ')}`]),
  ].join('; ');
  return { name: expectation.name, kind: 'incident', passed: false, expected, actual, window, evidence: [...inTime, ...later].map((incident) => evidence(incident)) };
}

function checkWorkOrder(expectation: ExpectationOf<'work_order'>, context: CheckContext): ExpectationResult {
  const window = windowOf(expectation, context);
  const skills = new Map(context.final.crews.map((crew) => [crew.id, crew.skills]));
  const crewHasSkill = (order: ApiWorkOrder) => expectation.crew_skill === undefined || (order.crew !== null && (skills.get(order.crew) ?? []).includes(expectation.crew_skill));
  const fits = (order: ApiWorkOrder) =>
    (expectation.zone === undefined || order.zone === expectation.zone) && (expectation.job_type === undefined || order.job_type === expectation.job_type) && atLeast(order.priority, expectation.priority);
  const created = (order: ApiWorkOrder) => {
    const atS = offsetS(order.created_at, context);
    return atS >= window.fromS - LOOKBACK_S && atS <= window.toS;
  };
  const wanted = [
    'a work order',
    expectation.job_type === undefined ? '' : ` for ${expectation.job_type}`,
    expectation.zone === undefined ? '' : ` in zone ${expectation.zone}`,
    expectation.priority === undefined ? '' : ` with priority ${expectation.priority}${expectation.priority === 'P1' ? '' : ' or more urgent'}`,
    expectation.crew_skill === undefined ? '' : ` assigned to a crew with the ${expectation.crew_skill} skill`,
  ].join('');
  const expected = `${wanted}, ${windowText(window)}`;
  const describe = (order: ApiWorkOrder) =>
    `${order.code} (${order.id}, ${order.job_type}, zone ${order.zone ?? 'none'}, priority ${order.priority}, created ${simTime(offsetS(order.created_at, context))}, ${order.crew === null ? 'no crew' : `crew ${order.crew} [${(skills.get(order.crew) ?? []).join(', ')}]`})`;
  const evidence = (order: ApiWorkOrder): Evidence => ({
    type: 'work_order',
    id: order.id,
    at: order.created_at,
    atS: offsetS(order.created_at, context),
    detail: `${order.code}, ${order.job_type}, zone ${order.zone ?? 'none'}, priority ${order.priority}, crew ${order.crew ?? 'none'}`,
  });
  for (const reading of readingsBy(context, window.toS)) {
    const match = reading.workOrders.find((order) => fits(order) && created(order) && crewHasSkill(order));
    if (match !== undefined) return { name: expectation.name, kind: 'work_order', passed: true, expected, actual: `work order ${describe(match)} shown at ${simTime(reading.atS)}`, window, evidence: [evidence(match)] };
  }
  const inTime = latestStates(readingsBy(context, window.toS).map((reading) => reading.workOrders));
  const later = context.final.workOrders.filter((order) => !inTime.some((seen) => seen.id === order.id && seen.crew === order.crew && seen.priority === order.priority));
  const actual = [
    inTime.length === 0 ? `no work order by ${simTime(window.toS)}` : `by ${simTime(window.toS)}: ${inTime.map(describe).join('; ')}`,
    ...(later.length === 0 ? [] : [`later, by ${simTime(context.final.atS)}: ${later.map(describe).join('; ')}`]),
  ].join('; ');
  return { name: expectation.name, kind: 'work_order', passed: false, expected, actual, window, evidence: [...inTime, ...later].map(evidence) };
}

function checkNoWorkOrder(expectation: ExpectationOf<'no_work_order'>, context: CheckContext): ExpectationResult {
  const window = windowOf(expectation, context);
  const event = context.events.get(expectation.after!)!;
  const tags = new Set(event.tags);
  const eventEndS = event.endS ?? context.runEndS;
  const caused = context.final.anomalies.filter((anomaly) => {
    if (anomaly.tag === null || !tags.has(anomaly.tag)) return false;
    const startS = offsetS(anomaly.start, context);
    return startS >= event.startS - LOOKBACK_S && startS <= eventEndS + INSTRUMENT_AFTERMATH_S;
  });
  const causedIds = new Set(caused.map((anomaly) => anomaly.id));
  const incidents = context.final.incidents.filter((incident) => incident.anomaly_ids.some((id) => causedIds.has(id)));
  const incidentIds = new Set(incidents.map((incident) => incident.id));
  const orders = latestStates([...context.readings.map((reading) => reading.workOrders), context.final.workOrders]).filter(
    (order) => order.incident_id !== null && incidentIds.has(order.incident_id) && offsetS(order.created_at, context) <= window.toS,
  );
  const expected = `no work order for an incident holding an anomaly of ${[...tags].join(', ')} (${expectation.after}, at ${simTime(event.startS)}), ${windowText(window)}`;
  const anomalyText = caused.length === 0 ? `no anomaly of ${[...tags].join(', ')}` : `anomalies ${caused.map((anomaly) => `${anomaly.id} (${anomaly.kind}, ${anomaly.tag}, from ${simTime(offsetS(anomaly.start, context))})`).join('; ')}`;
  const anomalyEvidence = caused.map((anomaly): Evidence => ({ type: 'anomaly', id: anomaly.id, at: anomaly.start, atS: offsetS(anomaly.start, context), detail: `${anomaly.kind}, ${anomaly.tag}` }));
  if (orders.length === 0) {
    const onIncidents = incidents.length === 0 ? '' : `, on incidents ${incidents.map((incident) => incident.id).join(', ')} without a work order`;
    return { name: expectation.name, kind: 'no_work_order', passed: true, expected, actual: `no such work order; ${anomalyText}${onIncidents}`, window, evidence: anomalyEvidence };
  }
  const actual = orders
    .map((order) => {
      const incident = incidents.find((candidate) => candidate.id === order.incident_id)!;
      const held = incident.anomaly_ids.filter((id) => causedIds.has(id));
      return `work order ${order.code} (${order.id}, ${order.job_type}, priority ${order.priority}) created ${simTime(offsetS(order.created_at, context))} for incident ${incident.id} holding ${held.join(', ')}`;
    })
    .join('; ');
  const orderEvidence = orders.map((order): Evidence => ({ type: 'work_order', id: order.id, at: order.created_at, atS: offsetS(order.created_at, context), detail: `${order.code}, incident ${order.incident_id}` }));
  return { name: expectation.name, kind: 'no_work_order', passed: false, expected, actual: `${actual}; ${anomalyText}`, window, evidence: [...orderEvidence, ...anomalyEvidence] };
}

function checkComplaintsLinked(expectation: ExpectationOf<'complaints_linked'>, context: CheckContext): ExpectationResult {
  const window = windowOf(expectation, context);
  const percent = (fraction: number) => `${Math.round(fraction * 1000) / 10}%`;
  const expected = `at least ${percent(expectation.at_least)} of the complaints the scenario caused, reported ${simTime(window.fromS)} to ${simTime(window.toS)}, linked to one incident${expectation.zone === undefined ? '' : ` in zone ${expectation.zone}`} (judged at ${simTime(context.final.atS)})`;
  const reported = context.scenarioComplaints.filter((complaint) => {
    const atS = offsetS(complaint.reported_at, context);
    return atS >= window.fromS && atS <= window.toS;
  });
  const byExternalId = new Map(context.final.complaints.filter((complaint) => complaint.external_id !== null).map((complaint) => [complaint.external_id!, complaint]));
  const incidents = new Map(context.final.incidents.map((incident) => [incident.id, incident]));
  const finalIncident = (id: string) => {
    let current = id;
    for (let hops = 0; context.final.mergedInto[current] !== undefined && hops < 100; hops++) current = context.final.mergedInto[current]!;
    return current;
  };
  const missing: string[] = [];
  const unlinked: string[] = [];
  const linked = new Map<string, string[]>();
  for (const complaint of reported) {
    const stored = byExternalId.get(complaint.external_id);
    if (stored === undefined) missing.push(complaint.external_id);
    else if (stored.incident_id === null) unlinked.push(stored.id);
    else {
      const incidentId = finalIncident(stored.incident_id);
      linked.set(incidentId, [...(linked.get(incidentId) ?? []), stored.id]);
    }
  }
  const candidates = [...linked.entries()]
    .filter(([incidentId]) => expectation.zone === undefined || incidents.get(incidentId)?.zone === expectation.zone)
    .sort(([a, aIds], [b, bIds]) => bIds.length - aIds.length || a.localeCompare(b));
  const best = candidates[0];
  const count = best?.[1].length ?? 0;
  const fraction = reported.length === 0 ? 0 : count / reported.length;
  const passed = reported.length > 0 && fraction >= expectation.at_least;
  const parts = [
    reported.length === 0
      ? `the simulated customers reported no complaint about the scenario from ${simTime(window.fromS)} to ${simTime(window.toS)}`
      : `${count} of ${reported.length} (${percent(fraction)}) linked to ${best === undefined ? `no incident${expectation.zone === undefined ? '' : ` in zone ${expectation.zone}`}` : `incident ${best[0]} (zone ${incidents.get(best[0])?.zone ?? 'unknown'})`}`,
    ...[...linked.entries()].filter(([incidentId]) => incidentId !== best?.[0]).map(([incidentId, ids]) => `${ids.length} to incident ${incidentId} (zone ${incidents.get(incidentId)?.zone ?? 'unknown'}): ${ids.join(', ')}`),
    ...(unlinked.length === 0 ? [] : [`${unlinked.length} to no incident: ${unlinked.join(', ')}`]),
    ...(missing.length === 0 ? [] : [`${missing.length} not found in the API (external ids ${missing.join(', ')})`]),
  ];
  const evidence: Evidence[] = [
    ...(best === undefined ? [] : [{ type: 'incident' as const, id: best[0], at: incidents.get(best[0])?.opened_at ?? '', atS: incidents.has(best[0]) ? offsetS(incidents.get(best[0])!.opened_at, context) : 0, detail: `${count} of ${reported.length} complaints` }]),
    ...context.final.complaints
      .filter((complaint) => unlinked.includes(complaint.id))
      .map((complaint): Evidence => ({ type: 'complaint', id: complaint.id, at: complaint.reported_at, atS: offsetS(complaint.reported_at, context), detail: 'linked to no incident' })),
  ];
  return { name: expectation.name, kind: 'complaints_linked', passed, expected, actual: parts.join('; '), window, evidence };
}

/** Each object once, in the state of the last list that held it. */
function latestStates<T extends { id: string }>(lists: ReadonlyArray<readonly T[]>): T[] {
  const latest = new Map<string, T>();
  for (const list of lists) for (const item of list) latest.set(item.id, item);
  return [...latest.values()];
}
