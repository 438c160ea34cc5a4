// Correlation, incidents, priority and work-order opening, on a hand-built town: two DMAs with
// sensors and a pump station feeding both, anomaly events and complaints on event time.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { expect } from 'chai';
import type { Anomaly, AnomalyEvent, AnomalyKind } from '../../src/contracts/anomaly.js';
import type { ComplaintCategory } from '../../src/contracts/complaint.js';
import type { CorrelationEvent, EngineComplaint, Incident } from '../../src/contracts/incident.js';
import { siteConfigSchema, type SiteConfig } from '../../src/contracts/site.js';
import { CorrelationResults } from '../../src/engine/correlation/correlation-results.js';
import { Correlator } from '../../src/engine/correlation/correlator.js';
import { matchScore } from '../../src/engine/correlation/match-score.js';
import { ComplaintTally, incidentKind, incidentPriority } from '../../src/engine/correlation/priority.js';

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const square = (lon: number, lat: number) => ({ type: 'Polygon', coordinates: [[[lon, lat], [lon + 0.02, lat], [lon + 0.02, lat + 0.015], [lon, lat + 0.015], [lon, lat]]] });

function town(correlation: Record<string, unknown> = {}): SiteConfig {
  return siteConfigSchema.parse({
    site: { id: 'town', name: 'Town' },
    zones: [
      {
        id: 'dma-1',
        name: 'DMA 1',
        customers: 4000,
        boundary: square(107.6, -6.9),
        critical_customers: [{ name: 'RS Merdeka General Hospital', kind: 'hospital', location: { lat: -6.891, lon: 107.61 } }],
      },
      // 10 km east: out of reach of DMA 1's sensors.
      { id: 'dma-2', name: 'DMA 2', customers: 2000, boundary: square(107.7, -6.9) },
    ],
    tags: [
      { id: 'd1.flow', kind: 'flow', unit: 'm3/h', zone: 'dma-1', location: { lat: -6.899, lon: 107.601 } },
      { id: 'd1.pressure', kind: 'pressure', unit: 'm', zone: 'dma-1', location: { lat: -6.893, lon: 107.608 } },
      { id: 'd2.pressure', kind: 'pressure', unit: 'm', zone: 'dma-2', location: { lat: -6.893, lon: 107.708 } },
      { id: 'ps.pump', kind: 'pump_status', unit: 'bool' },
    ],
    correlation,
  });
}

const tagZone: Record<string, string | null> = { 'd1.flow': 'dma-1', 'd1.pressure': 'dma-1', 'd2.pressure': 'dma-2', 'ps.pump': null };

function anomaly(kind: AnomalyKind, tag: string, startMs: number, options: { confidence?: number; endMs?: number | null; id?: string } = {}): Anomaly {
  return {
    id: options.id ?? `${tag}:${kind}:${startMs}`,
    kind,
    tag,
    zone: tagZone[tag] ?? null,
    startMs,
    endMs: options.endMs ?? null,
    magnitude: 10,
    unit: 'm',
    confidence: options.confidence ?? 0.9,
    detail: `${kind} on ${tag}`,
  };
}

const opened = (value: Anomaly, atMs = value.startMs): AnomalyEvent => ({ type: 'opened', atMs, anomaly: value });
const closed = (value: Anomaly, endMs: number): AnomalyEvent => ({ type: 'closed', atMs: endMs, anomaly: { ...value, endMs } });

/** A point inside DMA 1 near its pressure sensor, moved a little per index. */
function complaint(id: string, category: ComplaintCategory, reportedAtMs: number, options: { zone?: string | null; complainant?: string | null; index?: number } = {}): EngineComplaint {
  const zone = options.zone === undefined ? 'dma-1' : options.zone;
  const index = options.index ?? 0;
  const base = zone === 'dma-2' ? { lat: -6.892, lon: 107.707 } : { lat: -6.892, lon: 107.607 };
  return {
    id,
    category,
    zone,
    location: zone === null ? null : { lat: base.lat + index * 0.0001, lon: base.lon + index * 0.0001 },
    reportedAtMs,
    complainant: options.complainant === undefined ? `+62811${id}` : options.complainant,
  };
}

type Input = { anomaly: AnomalyEvent } | { complaint: EngineComplaint } | { decision: { complaintId: string; decision: 'verified' | 'rejected'; atMs: number } };

const inputTime = (input: Input) => ('anomaly' in input ? input.anomaly.atMs : 'complaint' in input ? input.complaint.reportedAtMs : input.decision.atMs);

/**
 * Feeds inputs in order, calling advanceTo every `cadenceMs` of event time in between (never when
 * undefined), and finally advanceTo(untilMs). Returns every event and the final state.
 */
function run(site: SiteConfig, inputs: Input[], untilMs: number, cadenceMs?: number) {
  const correlator = new Correlator(site);
  const events: CorrelationEvent[] = [];
  let tickMs = cadenceMs === undefined ? Number.POSITIVE_INFINITY : inputTime(inputs[0]!);
  const tickUntil = (timeMs: number) => {
    for (; tickMs <= timeMs; tickMs += cadenceMs!) events.push(...correlator.advanceTo(tickMs));
  };
  for (const input of inputs) {
    tickUntil(inputTime(input));
    if ('anomaly' in input) events.push(...correlator.anomaly(input.anomaly));
    else if ('complaint' in input) events.push(...correlator.complaint(input.complaint));
    else events.push(...correlator.operatorDecision(input.decision.complaintId, input.decision.decision, input.decision.atMs));
  }
  tickUntil(untilMs);
  events.push(...correlator.advanceTo(untilMs));
  const results = new CorrelationResults();
  for (const event of events) results.take(event);
  return { correlator, events, incidents: results.incidents(), workOrders: results.workOrders() };
}

const ofType = <T extends CorrelationEvent['type']>(events: CorrelationEvent[], type: T) => events.filter((event): event is CorrelationEvent & { type: T } => event.type === type);

const incidentOf = (incidents: Incident[], complaintId: string) => incidents.find((incident) => incident.complaintIds.includes(complaintId));

describe('correlation: complaint-to-anomaly score', () => {
  const site = town();
  const settings = site.correlation.match;
  const tagLocation = (tag: string) => site.tags.find((candidate) => candidate.id === tag)?.location;
  const veryLow = anomaly('pressure_very_low', 'd1.pressure', T0);
  const cases: Array<[string, EngineComplaint, Anomaly, number]> = [
    ['same zone while it lasts', complaint('a', 'no_water', T0 + 10 * MINUTE), veryLow, 0.4 + 0.35 + 0.25 * 0.9],
    ['same zone five hours into it', complaint('a', 'low_pressure', T0 + 5 * HOUR), veryLow, 0.4 + 0.35 + 0.25 * 0.9],
    ['an hour before it starts', complaint('a', 'no_water', T0 - HOUR), veryLow, 0.4 + 0.35 * 0.5 + 0.25 * 0.9],
    ['three hours before it starts', complaint('a', 'no_water', T0 - 3 * HOUR), veryLow, 0],
    ['half an hour after it ended', complaint('a', 'no_water', T0 + 90 * MINUTE), { ...veryLow, endMs: T0 + HOUR }, 0.4 + 0.35 * 0.5 + 0.25 * 0.9],
    ['an incompatible category', complaint('a', 'water_quality', T0 + 10 * MINUTE), veryLow, 0],
    ['no_water against low pressure only', complaint('a', 'no_water', T0 + 10 * MINUTE), anomaly('pressure_low', 'd1.pressure', T0), 0],
    ['leak_burst against a flow rise', complaint('a', 'leak_burst', T0 + 10 * MINUTE), anomaly('flow_above_profile', 'd1.flow', T0, { confidence: 0.5 }), 0.4 + 0.35 + 0.25 * 0.5],
    ['another zone 10 km away', complaint('a', 'no_water', T0 + 10 * MINUTE, { zone: 'dma-2' }), veryLow, 0],
    ['a sitewide pump trip', complaint('a', 'no_water', T0 + 10 * MINUTE, { zone: 'dma-2' }), anomaly('pump_trip', 'ps.pump', T0), 0.4 * 0.5 + 0.35 + 0.25 * 0.9],
    ['a sitewide flow rise, which places no leak', complaint('a', 'leak_burst', T0 + 10 * MINUTE, { zone: 'dma-2' }), anomaly('flow_above_profile', 'ps.pump', T0), 0],
    ['a doubtful sitewide pump trip', complaint('a', 'no_water', T0 + 10 * MINUTE, { zone: 'dma-2' }), anomaly('pump_trip', 'ps.pump', T0, { confidence: 0.2 }), 0.4 * 0.5 + 0.35 + 0.25 * 0.2],
  ];
  for (const [name, theComplaint, theAnomaly, expected] of cases) {
    it(`scores ${name} ${expected.toFixed(3)}`, () => {
      expect(matchScore(theComplaint, theAnomaly, tagLocation(theAnomaly.tag), settings).score).to.be.closeTo(expected, 1e-6);
    });
  }

  it('scores a complaint outside every zone by its distance to the tag', () => {
    const outside = { ...complaint('a', 'no_water', T0 + 10 * MINUTE), zone: null };
    const { place, score } = matchScore(outside, veryLow, tagLocation('d1.pressure'), settings);
    expect(place).to.be.within(0.85, 0.95);
    expect(score).to.be.at.least(settings.threshold);
  });
});

describe('correlation: incident kind and priority', () => {
  const site = town();
  const asEvidence = (complaints: EngineComplaint[]) => ComplaintTally.of(complaints.map((item) => ({ ...item, verification: 'pending' as const })));
  const kindCases: Array<[string, AnomalyKind[], ComplaintCategory[], string]> = [
    ['a large flow rise with leak_burst calls', ['flow_very_high'], ['leak_burst'], 'burst'],
    ['a flow rise with a pressure drop, in telemetry alone', ['flow_above_profile', 'pressure_drop'], [], 'burst'],
    ['a pump trip', ['pump_trip', 'pressure_low'], ['no_water'], 'pump_trip'],
    ['a night-flow rise', ['night_flow_rise'], [], 'leak'],
    ['a pressure collapse', ['pressure_very_low'], ['low_pressure'], 'no_water'],
    ['low pressure with low_pressure calls', ['pressure_low'], ['low_pressure', 'no_water', 'low_pressure'], 'low_pressure'],
    ['water_quality calls', [], ['water_quality', 'water_quality', 'other'], 'water_quality'],
    ['leak_burst calls alone', [], ['leak_burst'], 'leak'],
    ['nothing recognisable', ['level_high'], [], 'other'],
  ];
  for (const [name, kinds, categories, expected] of kindCases) {
    it(`calls ${name} ${expected}`, () => {
      const evidence = { anomalies: kinds.map((kind) => anomaly(kind, 'd1.pressure', T0)), complaints: asEvidence(categories.map((category, index) => complaint(`c${index}`, category, T0))) };
      expect(incidentKind(evidence)).to.equal(expected);
    });
  }

  it('explains each point: customers, a hospital, complainants, the anomaly, the kind, verification', () => {
    const zones = new Map(site.zones.map((zone) => [zone.id, zone]));
    const result = incidentPriority(
      { zone: 'dma-1', complaints: asEvidence([complaint('c1', 'no_water', T0), complaint('c2', 'no_water', T0, { complainant: '+62811c1' })]), anomalies: [anomaly('pressure_very_low', 'd1.pressure', T0)], durationSteps: 2 },
      'no_water',
      zones,
      site.correlation.priority,
    );
    expect(result.reasons).to.deep.equal([
      { factor: 'customers_affected', points: 8, detail: '4000 customers in dma-1' },
      { factor: 'critical_customers', points: 15, detail: '1 hospital in dma-1: RS Merdeka General Hospital' },
      { factor: 'complainants', points: 3, detail: '1 distinct complainant in 2 complaints' },
      { factor: 'anomaly_magnitude', points: 18, detail: 'severe: pressure_very_low on d1.pressure, confidence 0.90' },
      { factor: 'duration', points: 4, detail: 'open 2 h or more' },
      { factor: 'category', points: 15, detail: 'incident kind no_water' },
      { factor: 'verification', points: 5, detail: 'verified by telemetry (1 anomaly)' },
    ]);
    expect(result.score).to.equal(68);
    expect(result.priority).to.equal('P2');
  });

  it('keeps complaint counts in step as complaints are re-verified and incidents merge', () => {
    const evidence = (id: string, category: ComplaintCategory, zone: string | null, complainant: string | null) => ({ id, category, zone, complainant, verification: 'pending' as const });
    const first = [evidence('c1', 'no_water', 'dma-1', '+62811a'), evidence('c2', 'no_water', 'dma-2', '+62811a'), evidence('c3', 'leak_burst', null, null)];
    const second = [evidence('c4', 'low_pressure', 'dma-2', '+62811b')];
    const tally = ComplaintTally.of(first);
    tally.merge(ComplaintTally.of(second));
    const rejected = { ...first[0]!, verification: 'rejected' as const };
    tally.reverify(rejected, 'pending');
    const verified = { ...second[0]!, verification: 'verified_by_operator' as const };
    tally.reverify(verified, 'pending');
    const fromScratch = ComplaintTally.of([rejected, first[1]!, first[2]!, verified]);
    for (const current of [tally, fromScratch]) {
      expect({ total: current.total, counted: current.counted, rejected: current.rejected, operatorVerified: current.operatorVerified, complainants: current.complainants }).to.deep.equal({ total: 4, counted: 3, rejected: 1, operatorVerified: 1, complainants: 3 });
      expect(Object.fromEntries(current.byCategory)).to.deep.equal({ no_water: 1, leak_burst: 1, low_pressure: 1 });
      expect([...current.byZone]).to.deep.equal([['dma-2', 2]]);
    }
  });

  const thresholdCases: Array<[number, string]> = [[70, 'P1'], [69.5, 'P2'], [45, 'P2'], [25, 'P3'], [24, 'P4']];
  for (const [score, expected] of thresholdCases) {
    it(`maps a score of ${score} to ${expected}`, () => {
      const evidence = { zone: null, complaints: new ComplaintTally(), anomalies: [], durationSteps: 0 };
      const settings = { ...site.correlation.priority, kind_points: { ...site.correlation.priority.kind_points, other: score } };
      expect(incidentPriority(evidence, 'other', new Map(), settings).priority).to.equal(expected);
    });
  }
});

describe('correlation: incidents and work orders', () => {
  function burst(): Input[] {
    const flow = anomaly('flow_very_high', 'd1.flow', T0, { confidence: 0.95 });
    const drop = anomaly('pressure_drop', 'd1.pressure', T0);
    const veryLow = anomaly('pressure_very_low', 'd1.pressure', T0 + MINUTE);
    const categories: ComplaintCategory[] = ['leak_burst', 'no_water', 'low_pressure'];
    const calls = Array.from({ length: 30 }, (_, index) => ({
      complaint: complaint(`c${String(index + 1).padStart(2, '0')}`, categories[index % 3]!, T0 + 5 * MINUTE + index * 2 * MINUTE, { index }),
    }));
    return [
      { anomaly: opened(flow, T0 + 2 * MINUTE) },
      { anomaly: opened(drop, T0 + 3 * MINUTE) },
      { anomaly: opened(veryLow, T0 + 4 * MINUTE) },
      ...calls,
      { anomaly: closed(flow, T0 + 2 * HOUR) },
      { anomaly: closed(drop, T0 + 2 * HOUR) },
      { anomaly: closed(veryLow, T0 + 2 * HOUR) },
    ];
  }

  it('makes thirty complaints about one burst one verified incident with one work order', () => {
    const { events, incidents, workOrders } = run(town(), burst(), T0 + 3 * HOUR);
    expect(incidents).to.have.length(1);
    const incident = incidents[0]!;
    expect(incident.id).to.equal(`inc-d1.flow:flow_very_high:${T0}`);
    expect(incident.complaintIds).to.have.length(30);
    expect(incident.anomalyIds).to.have.length(3);
    expect(incident.kind).to.equal('burst');
    expect(incident.verified).to.equal(true);
    expect(incident.priority).to.equal('P1');
    expect(incident.reasons).to.deep.include({ factor: 'critical_customers', points: 15, detail: '1 hospital in dma-1: RS Merdeka General Hospital' });
    expect(incident.reasons).to.deep.include({ factor: 'complainants', points: 24, detail: '30 distinct complainants in 30 complaints' });
    const assignments = ofType(events, 'complaint_assigned');
    expect(assignments.every((event) => event.incidentId === incident.id && event.verification === 'verified_by_telemetry')).to.equal(true);
    expect(workOrders).to.have.length(1);
    // Opened once it settled, five minutes after the incident: the pressure drop had made it a burst by then.
    expect(workOrders[0]).to.deep.include({ incidentId: incident.id, jobType: 'burst_repair', createdAtMs: T0 + 7 * MINUTE });
    expect(ofType(events, 'work_order_opened')).to.have.length(1);
  });

  it('raises the priority with the evidence and explains it at each step', () => {
    const { events } = run(town(), burst(), T0 + 3 * HOUR);
    const scores = ofType(events, 'incident_updated').map((event) => event.incident.score);
    const opened = ofType(events, 'incident_opened')[0]!.incident;
    expect(opened.reasons.map((reason) => reason.factor)).to.deep.equal(['customers_affected', 'critical_customers', 'anomaly_magnitude', 'category', 'verification']);
    expect(Math.max(...scores)).to.be.greaterThan(opened.score);
    const durationUpdate = ofType(events, 'incident_updated').find((event) => event.incident.reasons.some((reason) => reason.factor === 'duration'));
    expect(durationUpdate?.atMs).to.equal(T0 + 2 * MINUTE + HOUR);
  });

  it('picks up complaints made before the anomaly when it opens', () => {
    const veryLow = anomaly('pressure_very_low', 'd1.pressure', T0, { confidence: 0.7 });
    const { events, incidents } = run(town(), [{ complaint: complaint('c1', 'no_water', T0 - 30 * MINUTE) }, { complaint: complaint('c2', 'no_water', T0 - 10 * MINUTE) }, { anomaly: opened(veryLow, T0 + 2 * MINUTE) }], T0 + 10 * MINUTE);
    const early = ofType(events, 'complaint_assigned').filter((event) => event.atMs < T0);
    expect(early.map((event) => [event.complaintId, event.incidentId, event.verification])).to.deep.equal([
      ['c1', null, 'pending'],
      ['c2', null, 'pending'],
    ]);
    const atOpening = ofType(events, 'complaint_assigned').filter((event) => event.atMs === T0 + 2 * MINUTE);
    expect(atOpening.map((event) => [event.complaintId, event.incidentId, event.verification, event.anomalyId])).to.deep.equal([
      ['c1', 'inc-c1', 'verified_by_telemetry', veryLow.id],
      ['c2', 'inc-c1', 'verified_by_telemetry', veryLow.id],
    ]);
    expect(incidents).to.have.length(1);
    expect(incidents[0]).to.deep.include({ id: 'inc-c1', kind: 'no_water', verified: true, complaintIds: ['c1', 'c2'], anomalyIds: [veryLow.id] });
  });

  it('leaves an unmatched complaint pending with no incident and no work order', () => {
    const { events, incidents, workOrders } = run(town(), [{ complaint: complaint('c1', 'no_water', T0) }], T0 + 48 * HOUR);
    expect(events).to.deep.equal([{ type: 'complaint_assigned', atMs: T0, complaintId: 'c1', incidentId: null, verification: 'pending', anomalyId: null, score: 0 }]);
    expect(incidents).to.deep.equal([]);
    expect(workOrders).to.deep.equal([]);
  });

  it('lets a category open a work order unverified when the setting allows it, and only that category', () => {
    const site = town({ work_order: { open_unverified: { no_water: true } } });
    const { incidents, workOrders } = run(site, [{ complaint: complaint('c1', 'no_water', T0) }, { complaint: complaint('c2', 'low_pressure', T0 + MINUTE, { zone: 'dma-2' }) }], T0 + HOUR);
    expect(incidents).to.have.length(1);
    expect(incidents[0]).to.deep.include({ id: 'inc-c1', verified: false, kind: 'no_water', priority: 'P3' });
    expect(workOrders).to.deep.equal([{ id: 'wo-inc-c1', incidentId: 'inc-c1', jobType: 'no_water_investigation', priority: 'P3', createdAtMs: T0 + 5 * MINUTE, dueAtMs: T0 + 5 * MINUTE + 72 * HOUR }]);
  });

  it('makes an unverified incident of three complainants in one zone and window, and a work order once an operator verifies one', () => {
    const inputs: Input[] = [
      { complaint: complaint('c1', 'low_pressure', T0) },
      { complaint: complaint('c2', 'low_pressure', T0 + 10 * MINUTE, { complainant: '+62811c1' }) },
      { complaint: complaint('c3', 'no_water', T0 + 20 * MINUTE) },
    ];
    const twoCallers = run(town(), inputs, T0 + 30 * MINUTE);
    expect(twoCallers.incidents, 'two distinct complainants are not enough').to.deep.equal([]);

    const third = run(town(), [...inputs, { complaint: complaint('c4', 'low_pressure', T0 + 25 * MINUTE) }, { decision: { complaintId: 'c2', decision: 'verified', atMs: T0 + 40 * MINUTE } }], T0 + HOUR);
    const opened = ofType(third.events, 'incident_opened');
    expect(opened).to.have.length(1);
    expect(opened[0]).to.deep.include({ atMs: T0 + 25 * MINUTE });
    expect(opened[0]!.incident).to.deep.include({ id: 'inc-c1', verified: false, kind: 'low_pressure', complaintIds: ['c1', 'c2', 'c3', 'c4'] });
    expect(ofType(third.events, 'work_order_opened').map((event) => event.atMs)).to.deep.equal([T0 + 40 * MINUTE]);
    expect(third.incidents[0]).to.deep.include({ verified: true });
    expect(third.workOrders[0]).to.deep.include({ jobType: 'pressure_investigation' });
  });

  it('closes an unverified incident at once when an operator rejects all its complaints', () => {
    const calls: Input[] = ['c1', 'c2', 'c3'].map((id, index) => ({ complaint: complaint(id, 'water_quality', T0 + index * MINUTE) }));
    const rejections: Input[] = ['c1', 'c2', 'c3'].map((id, index) => ({ decision: { complaintId: id, decision: 'rejected', atMs: T0 + 10 * MINUTE + index * MINUTE } }));
    const { events, incidents, workOrders } = run(town(), [...calls, ...rejections], T0 + HOUR);
    expect(ofType(events, 'incident_opened').map((event) => [event.atMs, event.incident.kind, event.incident.verified])).to.deep.equal([[T0 + 2 * MINUTE, 'water_quality', false]]);
    const updates = ofType(events, 'incident_updated').map((event) => event.incident.reasons.find((reason) => reason.factor === 'complainants')?.detail);
    expect(updates).to.deep.equal(['2 distinct complainants in 2 complaints (1 rejected, not counted)', '1 distinct complainant in 1 complaint (2 rejected, not counted)']);
    expect(ofType(events, 'incident_closed').map((event) => event.atMs)).to.deep.equal([T0 + 12 * MINUTE]);
    expect(incidents[0]!.closedAtMs).to.equal(T0 + 12 * MINUTE);
    expect(workOrders).to.deep.equal([]);
  });

  it('merges two incidents of one zone that come to share evidence into the older, keeping one work order', () => {
    const drop = anomaly('pressure_drop', 'd1.pressure', T0 + 15 * MINUTE);
    const veryLow = anomaly('pressure_very_low', 'd1.pressure', T0 + 24 * MINUTE);
    const { events, incidents, workOrders } = run(
      town(),
      [
        { complaint: complaint('a1', 'no_water', T0) },
        { complaint: complaint('a2', 'no_water', T0 + 5 * MINUTE) },
        { complaint: complaint('a3', 'no_water', T0 + 10 * MINUTE) },
        { anomaly: opened(drop) },
        { anomaly: opened(veryLow, T0 + 25 * MINUTE) },
      ],
      T0 + HOUR,
    );
    expect(ofType(events, 'incident_opened').map((event) => event.incident.id)).to.deep.equal(['inc-a1', `inc-${drop.id}`]);
    // The pressure drop alone was strong enough to open its own order; the older incident adopts it.
    expect(ofType(events, 'work_order_opened').map((event) => [event.workOrder.incidentId, event.atMs])).to.deep.equal([[`inc-${drop.id}`, T0 + 20 * MINUTE]]);
    expect(ofType(events, 'incidents_merged')).to.deep.equal([{ type: 'incidents_merged', atMs: T0 + 25 * MINUTE, from: `inc-${drop.id}`, into: 'inc-a1' }]);
    expect(incidents).to.have.length(1);
    expect(incidents[0]).to.deep.include({ id: 'inc-a1', verified: true, complaintIds: ['a1', 'a2', 'a3'] });
    expect(incidents[0]!.anomalyIds).to.have.members([drop.id, veryLow.id]);
    expect(workOrders).to.have.length(1);
  });

  it('keeps only the id of a complaint out of every window in its incident, which lives on', () => {
    const windows = { decision_window_ms: 20 * MINUTE, match: { lookback_ms: 20 * MINUTE }, cluster: { window_ms: 20 * MINUTE } };
    const calls = (prefix: string, fromMs: number) => [0, 5, 10].map((minutes, index): Input => ({ complaint: complaint(`${prefix}${index + 1}`, 'no_water', fromMs + minutes * MINUTE, { index }) }));
    const { correlator, incidents } = run(town(windows), [...calls('a', T0), ...calls('b', T0 + 25 * MINUTE)], T0 + 45 * MINUTE);
    expect(incidents).to.have.length(1);
    expect(incidents[0]).to.deep.include({ id: 'inc-a1', closedAtMs: null, complaintIds: ['a1', 'a2', 'a3', 'b1', 'b2', 'b3'] });
    expect(incidents[0]!.reasons).to.deep.include({ factor: 'complainants', points: 18, detail: '6 distinct complainants in 6 complaints' });
    // The first three are out of every window: the correlator holds only the later ones.
    expect(correlator.held().complaints).to.equal(3);
  });

  it('closes an incident after the quiet period once every anomaly has ended, whatever the cadence', () => {
    const flow = anomaly('flow_very_high', 'd1.flow', T0);
    const drop = anomaly('pressure_drop', 'd1.pressure', T0);
    const inputs: Input[] = [{ anomaly: opened(flow) }, { anomaly: opened(drop) }, { anomaly: closed(flow, T0 + 30 * MINUTE) }, { anomaly: closed(drop, T0 + HOUR) }];
    for (const cadence of [undefined, MINUTE]) {
      const { events, incidents } = run(town(), inputs, T0 + 10 * HOUR, cadence);
      expect(ofType(events, 'incident_closed').map((event) => [event.atMs, event.incident.closedAtMs])).to.deep.equal([[T0 + 3 * HOUR, T0 + 3 * HOUR]]);
      expect(incidents[0]!.closedAtMs).to.equal(T0 + 3 * HOUR);
    }
    const stillOpen = run(town(), inputs.slice(0, 3), T0 + 10 * HOUR);
    expect(stillOpen.incidents[0]!.closedAtMs, 'the pressure drop never ended').to.equal(null);
  });

  it('never lets a sensor fault verify a complaint, join or open an incident, or open a work order', () => {
    const stuck = anomaly('sensor_stuck', 'd1.pressure', T0, { confidence: 1 });
    const gap = anomaly('sensor_gap', 'd1.flow', T0, { confidence: 1 });
    const calls: Input[] = ['c1', 'c2', 'c3'].map((id, index) => ({ complaint: complaint(id, 'no_water', T0 + (index + 1) * MINUTE) }));
    const { events, incidents, workOrders } = run(town(), [{ anomaly: opened(stuck) }, { anomaly: opened(gap) }, ...calls], T0 + 2 * HOUR);
    expect(ofType(events, 'complaint_assigned').every((event) => event.verification === 'pending' && event.anomalyId === null)).to.equal(true);
    expect(incidents).to.have.length(1);
    expect(incidents[0]).to.deep.include({ verified: false, anomalyIds: [] });
    expect(workOrders).to.deep.equal([]);
    const alone = run(town(), [{ anomaly: opened(stuck) }, { anomaly: closed(stuck, T0 + HOUR) }], T0 + 2 * HOUR);
    expect(alone.events).to.deep.equal([]);
    const drop = anomaly('pressure_drop', 'd1.pressure', T0 - MINUTE);
    const beside = run(town(), [{ anomaly: opened(drop) }, { anomaly: opened(stuck) }, { anomaly: opened(gap) }], T0 + 2 * HOUR);
    expect(beside.incidents.map((incident) => incident.anomalyIds), 'a fault beside a real anomaly stays out of its incident').to.deep.equal([[drop.id]]);
  });

  it('opens an incident from a strong anomaly alone, but not from a weak one', () => {
    const strong = run(town(), [{ anomaly: opened(anomaly('pressure_drop', 'd1.pressure', T0, { confidence: 0.85 })) }], T0 + HOUR);
    expect(strong.incidents).to.have.length(1);
    expect(strong.workOrders).to.have.length(1);
    const weak = run(town(), [{ anomaly: opened(anomaly('pressure_drop', 'd1.pressure', T0, { confidence: 0.6 })) }, { anomaly: opened(anomaly('flow_above_profile', 'd1.flow', T0, { confidence: 0.99 })) }], T0 + HOUR);
    expect(weak.incidents).to.deep.equal([]);
    const off = run(town({ standalone: { kinds: [] } }), [{ anomaly: opened(anomaly('pressure_drop', 'd1.pressure', T0, { confidence: 0.99 })) }], T0 + HOUR);
    expect(off.incidents).to.deep.equal([]);
  });

  it('gathers complaints from both zones into one sitewide pump-trip incident', () => {
    const trip = anomaly('pump_trip', 'ps.pump', T0);
    const { incidents, workOrders } = run(town(), [{ anomaly: opened(trip) }, { complaint: complaint('c1', 'no_water', T0 + 10 * MINUTE) }, { complaint: complaint('c2', 'no_water', T0 + 12 * MINUTE, { zone: 'dma-2' }) }], T0 + HOUR);
    expect(incidents).to.have.length(1);
    expect(incidents[0]).to.deep.include({ zone: null, kind: 'pump_trip', complaintIds: ['c1', 'c2'] });
    expect(incidents[0]!.reasons).to.deep.include({ factor: 'customers_affected', points: 12, detail: '6000 customers in dma-1, dma-2' });
    expect(workOrders[0]).to.deep.include({ jobType: 'pump_repair' });
  });

  it('forgets a closed incident, its complaints and anomalies once no input can reach them, burst after burst', () => {
    const { correlator, incidents } = run(town(), burst(), T0 + 3 * HOUR);
    expect(incidents).to.have.length(1);
    expect(correlator.held()).to.deep.include({ complaints: 30, openIncidents: 1 });
    // Closed after its quiet period; its complaints stay within reach of operator decisions for the decision window.
    correlator.advanceTo(T0 + 2 * DAY);
    expect(correlator.held()).to.deep.equal({ complaints: 30, liveAnomalies: 0, openIncidents: 0, closedIncidents: 1, incidentIds: 1 });
    const afterWindowMs = T0 + 8 * DAY + HOUR;
    expect(correlator.operatorDecision('c1', 'rejected', afterWindowMs), 'a decision past the window').to.deep.equal([]);
    expect(correlator.held()).to.deep.equal({ complaints: 0, liveAnomalies: 0, openIncidents: 0, closedIncidents: 0, incidentIds: 0 });

    // A month of bursts, one a week: what it holds after each is the same as after the first.
    for (let week = 1; week <= 4; week += 1) {
      const shiftMs = week * 9 * DAY;
      for (const input of burst()) {
        if ('anomaly' in input) correlator.anomaly({ ...input.anomaly, atMs: input.anomaly.atMs + shiftMs, anomaly: { ...input.anomaly.anomaly, id: `${input.anomaly.anomaly.id}:w${week}`, startMs: input.anomaly.anomaly.startMs + shiftMs, endMs: input.anomaly.anomaly.endMs === null ? null : input.anomaly.anomaly.endMs + shiftMs } });
        else if ('complaint' in input) correlator.complaint({ ...input.complaint, id: `${input.complaint.id}:w${week}`, reportedAtMs: input.complaint.reportedAtMs + shiftMs });
      }
      correlator.advanceTo(T0 + shiftMs + 2 * DAY);
      expect(correlator.held(), `week ${week}`).to.deep.equal({ complaints: 30, liveAnomalies: 0, openIncidents: 0, closedIncidents: 1, incidentIds: 1 });
    }
  });

  it('lets go of forgotten complaints entirely, for the garbage collector to take', async () => {
    setFlagsFromString('--expose-gc');
    const collectGarbage = runInNewContext('gc') as () => void;
    const correlator = new Correlator(town());
    // Fed from a function of its own, so that only the correlator can still hold the complaints' places.
    const feed = (): Array<WeakRef<object>> => {
      const places: Array<WeakRef<object>> = [];
      for (const input of burst()) {
        if ('anomaly' in input) correlator.anomaly(input.anomaly);
        else if ('complaint' in input) {
          places.push(new WeakRef(input.complaint.location!));
          correlator.complaint(input.complaint);
        }
      }
      return places;
    };
    const places = feed();
    correlator.advanceTo(T0 + 2 * DAY);
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(places.filter((place) => place.deref() !== undefined), 'within the decision window').to.have.length(30);
    correlator.advanceTo(T0 + 8 * DAY + HOUR);
    expect(correlator.held().complaints).to.equal(0);
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(places.filter((place) => place.deref() !== undefined), 'past the window').to.have.length(0);
  });

  it('gives the same events and state whether advanceTo is called every second, now and then, or never', () => {
    const inputs: Input[] = [
      { complaint: complaint('early', 'no_water', T0 - 20 * MINUTE) },
      ...burst(),
      { complaint: complaint('q1', 'water_quality', T0 + 3 * HOUR, { zone: 'dma-2' }) },
      { complaint: complaint('q2', 'water_quality', T0 + 3 * HOUR + 5 * MINUTE, { zone: 'dma-2' }) },
      { complaint: complaint('q3', 'water_quality', T0 + 3 * HOUR + 5 * MINUTE, { zone: 'dma-2' }) },
      { decision: { complaintId: 'q2', decision: 'verified' as const, atMs: T0 + 4 * HOUR } },
      { complaint: complaint('late', 'leak_burst', T0 + 6 * HOUR) },
    ].sort((a, b) => time(a) - time(b));
    const untilMs = T0 + 30 * HOUR;
    const reference = run(town(), inputs, untilMs);
    expect(ofType(reference.events, 'incident_closed').length).to.be.greaterThan(0);
    expect(reference.workOrders).to.have.length(2);
    for (const cadence of [1000, 7 * MINUTE, 45 * MINUTE, 5 * HOUR]) {
      const other = run(town(), inputs, untilMs, cadence);
      expect(JSON.stringify(other.events), `advanceTo every ${cadence} ms`).to.equal(JSON.stringify(reference.events));
      expect(other.incidents).to.deep.equal(reference.incidents);
      expect(other.workOrders).to.deep.equal(reference.workOrders);
    }
    // Made before the burst, matched when the pressure collapse opened.
    expect(incidentOf(reference.incidents, 'early')?.id).to.equal(`inc-d1.flow:flow_very_high:${T0}`);
  });
});

function time(input: Input): number {
  return 'anomaly' in input ? input.anomaly.atMs : 'complaint' in input ? input.complaint.reportedAtMs : input.decision.atMs;
}
