// A simulator scenario file: the incidents to inject into the simulated plant (leaks, bursts, pump
// trips, valve closures, a draining tank, sensor faults, PLCs going offline, demand surges) at
// offsets from the scenario's start, and how synthetic customers complain about them. This
// schema is the file's one source of truth; which junctions, pumps, tags and devices exist is
// checked against the hydraulic model and the site config when a scenario is loaded into a player.
import { z } from 'zod';
import { parseConfigText } from './config-text.js';
import { complaintChannels } from './complaint.js';
import { durationS } from './duration.js';
import { checkExpectationReferences, expectationListSchema, toExpectations } from './scenario-expectations.js';

const identifier = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must start with a letter or digit and contain only letters, digits, "_", "." or "-"');

const elementId = z.string().min(1).max(64);

const timing = {
  /** Optional name, unique in the file; defaults to `<kind>-<position from 1>`. */
  id: identifier.optional(),
  /** Offset from the scenario's start. */
  at: durationS,
  /** How long the event lasts; absent: until the run (or the scenario) is stopped. */
  duration: durationS.refine((seconds) => seconds > 0, 'must be longer than 0 s').optional(),
};

/** Emitter coefficient: outflow (m3/h) = coefficient × √(pressure in m). */
const coefficient = z.number().positive().max(10_000);

export const leakEventSchema = z.strictObject({
  kind: z.literal('leak'),
  ...timing,
  junction: elementId,
  coefficient,
  /** Fraction of the starting coefficient added per hour (0.5: +50 % an hour, linear); absent or 0 is a fixed leak. */
  growth_per_hour: z.number().nonnegative().max(100).default(0),
});

export const burstEventSchema = z.strictObject({
  kind: z.literal('burst'),
  ...timing,
  junction: elementId,
  coefficient,
});

export const pumpTripEventSchema = z.strictObject({
  kind: z.literal('pump_trip'),
  ...timing,
  pump: elementId,
});

export const valveClosureEventSchema = z.strictObject({
  kind: z.literal('valve_closure'),
  ...timing,
  /** A valve, or a pipe standing for the isolation valve on it. */
  valve: elementId,
});

export const tankDrainEventSchema = z.strictObject({
  kind: z.literal('tank_drain'),
  ...timing,
  /** Pumps held off (their level controls stand aside) so the tank they fill empties. */
  pumps: z.array(elementId).min(1),
});

export const sensorFaultKinds = ['stuck', 'drift', 'spike', 'dropout'] as const;
export type SensorFaultKind = (typeof sensorFaultKinds)[number];

export const sensorFaultEventSchema = z
  .strictObject({
    kind: z.literal('sensor_fault'),
    ...timing,
    tag: identifier,
    fault: z.enum(sensorFaultKinds),
    /** drift: change per hour, in the tag's unit. */
    rate_per_hour: z.number().finite().optional(),
    /** spike: added to every 5th reading, in the tag's unit. */
    magnitude: z.number().finite().optional(),
  })
  .superRefine((event, ctx) => {
    if (event.fault === 'drift' && event.rate_per_hour === undefined) ctx.addIssue({ code: 'custom', path: ['rate_per_hour'], message: 'a drift fault needs rate_per_hour (in the tag\'s unit)' });
    if (event.fault === 'spike' && event.magnitude === undefined) ctx.addIssue({ code: 'custom', path: ['magnitude'], message: 'a spike fault needs magnitude (in the tag\'s unit)' });
    if (event.fault !== 'drift' && event.rate_per_hour !== undefined) ctx.addIssue({ code: 'custom', path: ['rate_per_hour'], message: 'rate_per_hour applies to drift faults only' });
    if (event.fault !== 'spike' && event.magnitude !== undefined) ctx.addIssue({ code: 'custom', path: ['magnitude'], message: 'magnitude applies to spike faults only' });
  });

export const plcOfflineEventSchema = z.strictObject({
  kind: z.literal('plc_offline'),
  ...timing,
  device: identifier,
});

export const demandSurgeEventSchema = z.strictObject({
  kind: z.literal('demand_surge'),
  ...timing,
  /** A zone id of the site config, or `all`. */
  zone: identifier,
  /** Multiplies base demand; factors of overlapping surges multiply. */
  factor: z.number().positive().max(20),
});

export const scenarioEventKinds = ['leak', 'burst', 'pump_trip', 'valve_closure', 'tank_drain', 'sensor_fault', 'plc_offline', 'demand_surge'] as const;
export type ScenarioEventKind = (typeof scenarioEventKinds)[number];

export const scenarioEventInputSchema = z.discriminatedUnion('kind', [
  leakEventSchema,
  burstEventSchema,
  pumpTripEventSchema,
  valveClosureEventSchema,
  tankDrainEventSchema,
  sensorFaultEventSchema,
  plcOfflineEventSchema,
  demandSurgeEventSchema,
]);
type ScenarioEventInput = z.infer<typeof scenarioEventInputSchema>;

/** How synthetic customers complain (see simulators/scenarios/complaint-generator.ts). */
export const complaintSettingsSchema = z
  .strictObject({
    /** Customers whose pressure falls below this complain of low pressure. */
    service_level_m: z.number().min(0).max(100).default(10),
    /** At or below this pressure the complaint is "no water". */
    no_water_m: z.number().min(-100).max(100).default(1),
    /** Unrelated complaints (quality, billing, meters…) per hour, anywhere in the network. */
    noise_per_hour: z.number().min(0).max(1000).default(2),
    /** Delay between a customer noticing a problem and reporting it, drawn uniformly. */
    delay_min_s: z.number().min(0).max(86_400).default(120),
    delay_max_s: z.number().min(0).max(86_400).default(1800),
    /** Customers within this distance of an active burst or leak see water in the street. */
    leak_radius_m: z.number().min(0).max(5000).default(150),
    /** Customers of a junction are split into groups of about this many; a group complains at most once per episode. */
    customers_per_group: z.number().int().min(1).max(100_000).default(25),
    /** Chance that a group short of pressure complains during one episode. */
    complaint_probability: z.number().min(0).max(1).default(0.3),
    /** Chance that a group seeing a burst or leak reports it. */
    witness_probability: z.number().min(0).max(1).default(0.8),
    /** Channels used, with relative weights. */
    channels: z.partialRecord(z.enum(complaintChannels), z.number().nonnegative()).optional(),
  })
  .superRefine((settings, ctx) => {
    if (settings.delay_max_s < settings.delay_min_s) ctx.addIssue({ code: 'custom', path: ['delay_max_s'], message: 'delay_max_s must be at least delay_min_s' });
    if (settings.no_water_m >= settings.service_level_m) ctx.addIssue({ code: 'custom', path: ['no_water_m'], message: 'no_water_m must be below service_level_m' });
    if (settings.channels !== undefined && !Object.values(settings.channels).some((weight) => weight !== undefined && weight > 0)) {
      ctx.addIssue({ code: 'custom', path: ['channels'], message: 'at least one channel needs a weight above 0' });
    }
  });
export type ComplaintSettings = z.infer<typeof complaintSettingsSchema>;

/** An event after parsing: times in seconds, an id always present. */
export type ScenarioEvent = ScenarioEventInput extends infer Event
  ? Event extends { at: number; duration?: number | undefined; id?: string | undefined }
    ? Omit<Event, 'at' | 'duration' | 'id'> & { id: string; atS: number; durationS: number | null }
    : never
  : never;
export type ScenarioEventOf<Kind extends ScenarioEventKind> = Extract<ScenarioEvent, { kind: Kind }>;

export const scenarioSchema = z
  .strictObject({
    id: identifier,
    description: z.string().min(1).optional(),
    /** Seed of the synthetic complaints (and anything else random in the scenario). */
    seed: z.number().int().min(0).max(4_294_967_295).optional(),
    events: z.array(scenarioEventInputSchema).min(1),
    complaints: complaintSettingsSchema.prefault({}),
    /** What `tirta scenario run` checks the system made of the scenario: src/contracts/scenario-expectations.ts. */
    expect: expectationListSchema.optional(),
  })
  .superRefine((scenario, ctx) => {
    const seen = new Map<string, number>();
    scenario.events.forEach((event, index) => {
      const id = event.id ?? defaultEventId(event.kind, index);
      const first = seen.get(id);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['events', index, 'id'], message: `duplicate event id "${id}" (first at events[${first}])` });
      else seen.set(id, index);
    });
    if (scenario.expect !== undefined) {
      checkExpectationReferences(scenario.expect, scenario.events.map((event, index) => ({ id: event.id ?? defaultEventId(event.kind, index), kind: event.kind })), ctx);
    }
  })
  .transform((scenario) => ({
    ...scenario,
    expect: toExpectations(scenario.expect ?? []),
    events: scenario.events.map((event, index): ScenarioEvent => {
      const { at, duration, id, ...rest } = event;
      return { ...rest, id: id ?? defaultEventId(event.kind, index), atS: at, durationS: duration ?? null } as ScenarioEvent;
    }),
  }));
export type Scenario = z.output<typeof scenarioSchema>;

function defaultEventId(kind: ScenarioEventKind, index: number): string {
  return `${kind}-${index + 1}`;
}


/** Parses scenario YAML (or JSON); throws a ConfigError naming the file, each path and why. */
export function parseScenario(text: string, file: string): Scenario {
  return parseConfigText(text, file, scenarioSchema);
}
