// Dispatch settings (`dispatch:` in the site config): the crews with their officers, skills,
// zones, shifts and base; the standard duration of each job type from which due times are set;
// auto-assignment and SLA escalation. The rules are written up in src/workorders/README.md.
import { z } from 'zod';
import { jobTypes, type JobType } from './incident.js';
import { identifier, latLonSchema, storableText } from './primitives.js';

export const weekdays = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Weekday = (typeof weekdays)[number];

const clockTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24-hour)');

/** A weekly shift in the site's time zone; an end before the start runs past midnight. */
export const shiftSchema = z
  .strictObject({
    days: z.array(z.enum(weekdays)).min(1),
    start: clockTime,
    end: clockTime,
  })
  .refine((shift) => shift.start !== shift.end, { message: 'end must differ from start', path: ['end'] });
export type Shift = z.infer<typeof shiftSchema>;

export const officerSchema = z.strictObject({
  id: identifier,
  name: z.string().min(1).max(200),
});
export type Officer = z.infer<typeof officerSchema>;

export const crewSchema = z.strictObject({
  id: identifier,
  name: z.string().min(1).max(200),
  /** Job types the crew can do. */
  skills: z.array(z.enum(jobTypes)).min(1),
  /** Zones the crew serves; empty serves every zone. */
  zones: z.array(identifier).default([]),
  /** When the crew works; empty means always on call. */
  shifts: z.array(shiftSchema).default([]),
  /** Where the crew starts from until it reports a location. */
  base: latLonSchema,
  officers: z.array(officerSchema).min(1),
});
export type Crew = z.infer<typeof crewSchema>;

const minutes = z.number().positive().max(30 * 24 * 60);

export const standardMinutesDefaults: Record<JobType, number> = {
  burst_repair: 240,
  leak_repair: 480,
  no_water_investigation: 120,
  pressure_investigation: 180,
  pump_repair: 360,
  quality_sampling: 480,
  meter: 1440,
  general_investigation: 480,
};

export const dispatchSettingsSchema = z.strictObject({
  /** Standard working time of each job type, from the utility's workload analysis. */
  standard_minutes: z.strictObject(Object.fromEntries(jobTypes.map((job) => [job, minutes.default(standardMinutesDefaults[job])])) as Record<JobType, z.ZodDefault<typeof minutes>>).prefault({}),
  /** Assign new orders to the best crew as they open; off leaves them for a dispatcher. */
  auto_assign: z.boolean().default(true),
  /** Crews' average road speed in town: turns distance into travel minutes when choosing a crew. */
  travel_speed_kmh: z.number().positive().max(200).default(25),
  /** An order escalates with a warning when this share of its allowed time is left, and again when due. */
  sla_warning_fraction: z.number().min(0).max(1).default(0.25),
  crews: z.array(crewSchema).default([]),
});
export type DispatchSettings = z.infer<typeof dispatchSettingsSchema>;

/** Issues the schema cannot see alone: duplicate crew and officer ids, zones the site lacks. */
export function dispatchIssues(settings: DispatchSettings, zoneIds: ReadonlySet<string>): Array<{ path: Array<string | number>; message: string }> {
  const issues: Array<{ path: Array<string | number>; message: string }> = [];
  const crewIds = new Map<string, number>();
  const officerIds = new Map<string, string>();
  settings.crews.forEach((crew, index) => {
    const first = crewIds.get(crew.id);
    if (first !== undefined) issues.push({ path: ['crews', index, 'id'], message: `duplicate crew id "${crew.id}" (also crews[${first}])` });
    else crewIds.set(crew.id, index);
    crew.zones.forEach((zone, zoneIndex) => {
      if (!zoneIds.has(zone)) issues.push({ path: ['crews', index, 'zones', zoneIndex], message: `unknown zone "${zone}"` });
    });
    crew.officers.forEach((officer, officerIndex) => {
      const owner = officerIds.get(officer.id);
      if (owner !== undefined) issues.push({ path: ['crews', index, 'officers', officerIndex, 'id'], message: `officer "${officer.id}" is already in crew "${owner}"` });
      else officerIds.set(officer.id, crew.id);
    });
  });
  return issues;
}

export const workOrderStatuses = ['new', 'assigned', 'acknowledged', 'in_progress', 'completed', 'cancelled'] as const;
export type WorkOrderStatus = (typeof workOrderStatuses)[number];

export const workOrderActions = ['assign', 'acknowledge', 'start', 'complete', 'cancel', 'reopen'] as const;
export type WorkOrderAction = (typeof workOrderActions)[number];

const note = storableText(1, 5000);
const version = z.number().int().min(1);

/** A dispatcher's manual order, not opened by an incident. */
export const manualWorkOrderBodySchema = z.strictObject({
  job_type: z.enum(jobTypes),
  priority: z.enum(['P1', 'P2', 'P3', 'P4']),
  title: storableText(1, 200),
  description: note.optional(),
  zone: identifier.optional(),
  location: latLonSchema.optional(),
});
export type ManualWorkOrderBody = z.infer<typeof manualWorkOrderBodySchema>;

/** Every state change names the version it was made against (optimistic concurrency); who made it is the caller. */
export const transitionBodySchema = z.strictObject({
  version,
  note: note.optional(),
});

export const assignBodySchema = transitionBodySchema.extend({
  /** The crew to assign; absent, the order goes to the best capable crew. */
  crew: identifier.optional(),
});

export const completeBodySchema = transitionBodySchema.extend({
  /** Officers who did the job; absent, every officer of the crew. */
  officers: z.array(identifier).min(1).max(50).optional(),
});

export const cancelBodySchema = transitionBodySchema.extend({ note });
export const reopenBodySchema = transitionBodySchema.extend({ note });

export const crewLocationBodySchema = z.strictObject({
  lat: z.number().min(-90).max(90),
  lon: z.number().min(-180).max(180),
  /** When the position was taken; defaults to the time the service receives it. */
  at: z.iso.datetime({ offset: true }).optional(),
});
