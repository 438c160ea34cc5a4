// What a scenario file expects the whole system to make of it (`expect:` in a scenario file):
// incidents, work orders, the work orders it must not cause, and how many of its complaints end
// up on one incident, each within a window of simulated time. `tirta scenario run` plays the
// scenario and checks these against what the API reports. Every window counts from the
// scenario's start, or from the start of the event named in `after`.
//
//   expect:
//     - { kind: incident, after: braga-burst, within: 15m, zone: dma-2, priority: P1 }
//     - { kind: work_order, after: braga-burst, within: 20m, zone: dma-2, crew_skill: burst_repair }
//     - { kind: no_work_order, caused_by: merdeka-sensor-stuck, within: 30m }
//     - { kind: complaints_linked, after: braga-burst, within: 20m, zone: dma-2, at_least: 80% }
import { z } from 'zod';
import { durationS } from './duration.js';
import { jobTypes, priorities } from './incident.js';
import { identifier } from './primitives.js';

const window = {
  /** Names the expectation in reports; defaults to `<kind>-<position from 1>`. */
  name: identifier.optional(),
  /** The event (its id in `events`) whose start the window counts from; absent: the scenario's start. */
  after: identifier.optional(),
  /** How much simulated time after that the expectation has to hold. */
  within: durationS.refine((seconds) => seconds > 0, 'must be longer than 0 s'),
};

/** An incident in the zone with at least this priority (P1 is the most urgent) by the end of the window. */
export const incidentExpectationSchema = z.strictObject({
  kind: z.literal('incident'),
  ...window,
  zone: identifier.optional(),
  priority: z.enum(priorities).optional(),
});

/** A work order (of the job type, zone, priority), assigned to a crew with the skill when crew_skill is given. */
export const workOrderExpectationSchema = z.strictObject({
  kind: z.literal('work_order'),
  ...window,
  zone: identifier.optional(),
  priority: z.enum(priorities).optional(),
  job_type: z.enum(jobTypes).optional(),
  crew_skill: z.enum(jobTypes).optional(),
});

/**
 * No work order for an incident holding an anomaly of the instrument the event broke (a
 * sensor_fault's tag, a plc_offline's device's tags). The window counts from that event's start.
 */
export const noWorkOrderExpectationSchema = z.strictObject({
  kind: z.literal('no_work_order'),
  name: identifier.optional(),
  caused_by: identifier,
  within: window.within,
});

const fraction = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const parsed = typeof value === 'number' ? value : /^\d+(?:\.\d+)?%$/.test(value.trim()) ? Number(value.trim().slice(0, -1)) / 100 : Number.NaN;
  if (!(parsed >= 0 && parsed <= 1)) {
    ctx.addIssue({ code: 'custom', message: 'must be a fraction from 0 to 1 (0.8) or a percentage ("80%")' });
    return z.NEVER;
  }
  return parsed;
});

/**
 * Of the complaints the simulated customers reported about this scenario within the window, at
 * least this fraction linked to one incident (in the zone, when given).
 */
export const complaintsLinkedExpectationSchema = z.strictObject({
  kind: z.literal('complaints_linked'),
  ...window,
  zone: identifier.optional(),
  at_least: fraction,
});

export const expectationKinds = ['incident', 'work_order', 'no_work_order', 'complaints_linked'] as const;
export type ExpectationKind = (typeof expectationKinds)[number];

export const expectationInputSchema = z.discriminatedUnion('kind', [incidentExpectationSchema, workOrderExpectationSchema, noWorkOrderExpectationSchema, complaintsLinkedExpectationSchema]);
type ExpectationInput = z.output<typeof expectationInputSchema>;

/** An expectation after parsing: a name always present, the window in seconds from `after` (null: the scenario's start). */
export type Expectation = ExpectationInput extends infer Input
  ? Input extends { within: number; name?: string | undefined }
    ? Omit<Input, 'within' | 'name' | 'after'> & { name: string; withinS: number; after: string | null }
    : never
  : never;
export type ExpectationOf<Kind extends ExpectationKind> = Extract<Expectation, { kind: Kind }>;

export const expectationListSchema = z.array(expectationInputSchema).min(1);

/** Event kinds whose harm is to an instrument, not the network: what no_work_order may name. */
const INSTRUMENT_EVENT_KINDS = new Set(['sensor_fault', 'plc_offline']);

/**
 * Issues for expectations naming events the scenario does not have, no_work_order naming an event
 * that breaks no instrument, and repeated names. `events` are the scenario's, with their ids.
 */
export function checkExpectationReferences(expectations: readonly ExpectationInput[], events: ReadonlyArray<{ id: string; kind: string }>, ctx: z.RefinementCtx): void {
  const eventKinds = new Map(events.map((event) => [event.id, event.kind]));
  const known = [...eventKinds.keys()].map((id) => `"${id}"`).join(', ');
  const names = new Map<string, number>();
  expectations.forEach((expectation, index) => {
    const name = expectation.name ?? defaultExpectationName(expectation.kind, index);
    const first = names.get(name);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['expect', index, 'name'], message: `duplicate expectation name "${name}" (first at expect[${first}])` });
    else names.set(name, index);
    if ('after' in expectation && expectation.after !== undefined && !eventKinds.has(expectation.after)) {
      ctx.addIssue({ code: 'custom', path: ['expect', index, 'after'], message: `no event "${expectation.after}" in events (events: ${known})` });
    }
    if (expectation.kind === 'no_work_order') {
      const kind = eventKinds.get(expectation.caused_by);
      if (kind === undefined) ctx.addIssue({ code: 'custom', path: ['expect', index, 'caused_by'], message: `no event "${expectation.caused_by}" in events (events: ${known})` });
      else if (!INSTRUMENT_EVENT_KINDS.has(kind)) ctx.addIssue({ code: 'custom', path: ['expect', index, 'caused_by'], message: `"${expectation.caused_by}" is a ${kind} event; no_work_order names a sensor_fault or plc_offline event` });
    }
  });
}

export function toExpectations(expectations: readonly ExpectationInput[]): Expectation[] {
  return expectations.map((expectation, index) => {
    const { within, name, ...rest } = expectation;
    const after = 'after' in rest ? (rest.after ?? null) : expectation.kind === 'no_work_order' ? expectation.caused_by : null;
    return { ...rest, name: name ?? defaultExpectationName(expectation.kind, index), withinS: within, after } as Expectation;
  });
}

function defaultExpectationName(kind: ExpectationKind, index: number): string {
  return `${kind}-${index + 1}`;
}
