// Settings of correlation, incidents, priority and work-order opening (`correlation:` in the site
// config), every field with a default. The rules they tune are written up in
// src/engine/correlation/README.md.
import { z } from 'zod';
import { hydraulicAnomalyKinds } from './anomaly.js';
import { priorities } from './incident.js';

const HOUR_MS = 3_600_000;
const durationMs = z.number().int().min(0).max(30 * 24 * HOUR_MS);
const points = z.number().min(0).max(1000);
const anomalyKinds = z.array(z.enum(hydraulicAnomalyKinds));

/** How a complaint is scored against an anomaly, and when the score verifies it. */
const matchSchema = z
  .strictObject({
    /** A complaint up to this long before an anomaly starts can be about it (people call before detectors confirm). */
    before_start_ms: durationMs.default(2 * HOUR_MS),
    /** ... and up to this long after it ends. */
    after_end_ms: durationMs.default(1 * HOUR_MS),
    /** Place score falls linearly to 0 at this distance between the complaint and the anomaly's tag. */
    max_distance_m: z.number().positive().max(100_000).default(2000),
    /** Place score of an anomaly on a tag with neither zone nor location (a pump station feeding the whole network). */
    sitewide_place_score: z.number().min(0).max(1).default(0.5),
    /**
     * Anomaly kinds on such a tag that can explain a complaint anywhere. Flows at a pump station
     * swing with every pump start, so a flow anomaly there says nothing about where a leak is.
     */
    sitewide_kinds: anomalyKinds.default(['pump_trip', 'pressure_very_low', 'pressure_low', 'pressure_drop']),
    weight_place: z.number().min(0).max(1).default(0.4),
    weight_time: z.number().min(0).max(1).default(0.35),
    weight_confidence: z.number().min(0).max(1).default(0.25),
    /** The best anomaly scoring at least this verifies the complaint by telemetry. */
    threshold: z.number().min(0).max(1).default(0.7),
    /** How far back a newly opened anomaly looks for complaints it explains. */
    lookback_ms: durationMs.default(24 * HOUR_MS),
    /** Anomaly kinds each complaint category can be about. */
    compatible: z
      .strictObject({
        no_water: anomalyKinds.default(['pressure_very_low', 'pump_trip']),
        leak_burst: anomalyKinds.default(['flow_above_profile', 'flow_high', 'flow_very_high', 'pressure_drop', 'night_flow_rise']),
        low_pressure: anomalyKinds.default(['pressure_low', 'pressure_very_low']),
        water_quality: anomalyKinds.default([]),
        other: anomalyKinds.default([]),
      })
      .prefault({}),
  })
  .refine((match) => Math.abs(match.weight_place + match.weight_time + match.weight_confidence - 1) < 1e-9, {
    message: 'weight_place + weight_time + weight_confidence must be 1',
    path: ['weight_place'],
  });

/** Complaints without a matching anomaly that still make an incident. */
const clusterSchema = z.strictObject({
  /** Distinct complainants in one zone and window that open an (unverified) incident. */
  min_complainants: z.number().int().min(1).max(1000).default(3),
  window_ms: durationMs.default(1 * HOUR_MS),
  /** Evidence joins an incident by clustering only this long after its first evidence, so steady background calls do not chain forever. */
  max_span_ms: durationMs.default(6 * HOUR_MS),
});

/** Anomalies strong enough to open an incident with no complaint (a burst seen only in telemetry at night). */
const standaloneSchema = z.strictObject({
  kinds: anomalyKinds.default(['flow_very_high', 'pressure_very_low', 'pressure_drop', 'pump_trip']),
  min_confidence: z.number().min(0).max(1).default(0.8),
});

const closeSchema = z.strictObject({
  /** An incident closes once every anomaly has ended and no evidence arrived for this long. */
  quiet_ms: durationMs.default(2 * HOUR_MS),
  /** ... and an incident of complaints only, after this long without new ones. */
  unverified_quiet_ms: durationMs.default(24 * HOUR_MS),
});

const priorityByLevel = (defaults: Record<(typeof priorities)[number], number>) =>
  z.strictObject({
    P1: durationMs.default(defaults.P1),
    P2: durationMs.default(defaults.P2),
    P3: durationMs.default(defaults.P3),
    P4: durationMs.default(defaults.P4),
  });

/** Points per factor; their sum is the incident's score, mapped to P1..P4 by the thresholds. */
const prioritySchema = z
  .strictObject({
    customers_points_per_1000: points.default(2),
    customers_max_points: points.default(15),
    critical_customer_points: z
      .strictObject({
        hospital: points.default(15),
        clinic: points.default(10),
        care_home: points.default(10),
        fire_station: points.default(8),
        school: points.default(5),
        government: points.default(3),
        industry: points.default(3),
        other: points.default(2),
      })
      .prefault({}),
    critical_customers_max_points: points.default(25),
    complainant_points: points.default(3),
    complainants_max_points: points.default(24),
    anomaly_points: z.strictObject({ severe: points.default(20), moderate: points.default(10), mild: points.default(5) }).prefault({}),
    duration_step_ms: z.number().int().min(60_000).max(30 * 24 * HOUR_MS).default(HOUR_MS),
    duration_points_per_step: points.default(2),
    duration_max_points: points.default(10),
    kind_points: z
      .strictObject({
        burst: points.default(20),
        no_water: points.default(15),
        water_quality: points.default(15),
        pump_trip: points.default(12),
        low_pressure: points.default(6),
        leak: points.default(5),
        other: points.default(2),
      })
      .prefault({}),
    verified_points: points.default(5),
    p1_min_score: points.default(70),
    p2_min_score: points.default(45),
    p3_min_score: points.default(25),
  })
  .refine((priority) => priority.p1_min_score > priority.p2_min_score && priority.p2_min_score > priority.p3_min_score, {
    message: 'p1_min_score > p2_min_score > p3_min_score',
    path: ['p1_min_score'],
  });

const workOrderSchema = z.strictObject({
  /** An incident opens its work order once it is at least this urgent ... */
  min_priority: z.enum(priorities).default('P3'),
  /** ... and not before it is this old, so that evidence arriving together (a flow rise, then the pressure drop) sets the job type. */
  settle_ms: durationMs.default(5 * 60_000),
  /** Due time after creation, by priority; the work-order service refines it from crews' workload. */
  due_ms: priorityByLevel({ P1: 4 * HOUR_MS, P2: 24 * HOUR_MS, P3: 72 * HOUR_MS, P4: 168 * HOUR_MS }).prefault({}),
  /** Categories whose complaints may open a work order before telemetry or an operator verifies them. */
  open_unverified: z
    .strictObject({
      no_water: z.boolean().default(false),
      low_pressure: z.boolean().default(false),
      leak_burst: z.boolean().default(false),
      water_quality: z.boolean().default(false),
      other: z.boolean().default(false),
    })
    .prefault({}),
});

export const correlationSettingsSchema = z.strictObject({
  match: matchSchema.prefault({}),
  cluster: clusterSchema.prefault({}),
  standalone: standaloneSchema.prefault({}),
  close: closeSchema.prefault({}),
  priority: prioritySchema.prefault({}),
  work_order: workOrderSchema.prefault({}),
  /** How long after a complaint an operator's decision on it still counts. */
  decision_window_ms: durationMs.default(7 * 24 * HOUR_MS),
});
export type CorrelationSettings = z.infer<typeof correlationSettingsSchema>;
