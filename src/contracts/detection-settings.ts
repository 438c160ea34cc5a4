// Settings of the streaming detectors (`detection:` in the site config), every field with a default.
// src/engine/detectors/README.md states the rules these numbers feed. Values in metres assume
// pressure tags in metres of head; flow thresholds are relative, so any flow unit works.
import { z } from 'zod';

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;
const durationMs = z.number().int().min(0).max(7 * 24 * HOUR_MS);
const localTime = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be HH:MM (24-hour local time)');

/** Tag kinds whose readings carry process noise, so that a frozen value means a frozen instrument. */
export const analogTagKinds = ['pressure', 'flow', 'level', 'chlorine', 'valve_position', 'other'] as const;

const sensorSchema = z.strictObject({
  /** A tag is silent (sensor_gap) after max(gap_min_ms, gap_interval_multiple × its usual sample interval) without a sample. */
  gap_min_ms: durationMs.min(1000).default(5 * MINUTE_MS),
  gap_interval_multiple: z.number().min(1).max(1000).default(3),
  /** The exact same value for at least stuck_min_ms and stuck_min_samples samples is sensor_stuck (zero flow excepted: a closed line reads 0). */
  stuck_min_ms: durationMs.min(1000).default(2 * HOUR_MS),
  stuck_min_samples: z.number().int().min(2).max(1_000_000).default(10),
  stuck_kinds: z.array(z.enum(analogTagKinds)).default(['pressure', 'flow', 'level', 'chlorine']),
  /** A value beyond the tag's range by more than this fraction of the span is sensor_out_of_range. */
  range_tolerance_fraction: z.number().min(0).max(1).default(0.01),
});

const alarmsSchema = z.strictObject({
  /** Consecutive samples beyond a limit needed on top of the tag's on_delay_s, so that a one-sample spike never raises an alarm. */
  min_samples: z.number().int().min(1).max(1000).default(2),
});

const pressureDropSchema = z.strictObject({
  /** A fall of at least min_drop_m from the highest value in window_ms ... */
  min_drop_m: z.number().positive().max(1000).default(5),
  /** ... at an average rate of at least min_rate_m_per_min since that highest value. */
  min_rate_m_per_min: z.number().positive().max(1000).default(0.5),
  window_ms: durationMs.min(1000).default(15 * MINUTE_MS),
  /** Consecutive (median-of-3 filtered) samples meeting both before the drop is reported. */
  min_samples: z.number().int().min(1).max(1000).default(2),
  /** The drop ends once pressure has regained this fraction of the fall. */
  recover_fraction: z.number().min(0.05).max(1).default(0.5),
});

const flowProfileSchema = z
  .strictObject({
    /** Flow is judged on means over fixed steps of event time, so the result does not depend on the sample rate. */
    step_ms: durationMs.min(MINUTE_MS).default(5 * MINUTE_MS),
    /** Width of a time-of-day bucket of the profile; must divide a day. */
    bucket_minutes: z.number().int().min(5).max(1440).default(60),
    /** each_day: one profile per day of the week; weekday_weekend: Monday-Friday and Saturday-Sunday; all_days: one daily profile. */
    day_types: z.enum(['each_day', 'weekday_weekend', 'all_days']).default('each_day'),
    /** Step means kept per bucket and day type, in weeks of history. */
    history_weeks: z.number().int().min(1).max(52).default(8),
    /** A bucket is judged only once it holds this many step means (24 = two weeks of hourly buckets of 5-minute steps). */
    min_history_values: z.number().int().min(3).max(10_000).default(24),
    /** Robust z = (step mean − bucket median) / (1.4826 × MAD) at which a step is above profile ... */
    z_open: z.number().positive().max(100).default(4),
    /** ... and below which it is back to normal. */
    z_close: z.number().min(0).max(100).default(2),
    /** The excess must also be at least this fraction of the median. */
    min_excess_fraction: z.number().min(0).max(10).default(0.1),
    /** The spread is never taken below this fraction of the median, so a very quiet bucket does not alarm on small changes. */
    sigma_floor_fraction: z.number().min(0).max(1).default(0.02),
    /** Consecutive steps above profile to open flow_above_profile, and consecutive normal steps to close it. */
    open_steps: z.number().int().min(1).max(1000).default(2),
    close_steps: z.number().int().min(1).max(1000).default(2),
  })
  .refine((profile) => 1440 % profile.bucket_minutes === 0, { message: 'bucket_minutes must divide 1440', path: ['bucket_minutes'] })
  .refine((profile) => profile.z_close <= profile.z_open, { message: 'z_close must not exceed z_open', path: ['z_close'] });

const slowLeakSchema = z.strictObject({
  /** CUSUM S = max(0, S + min(z, clip) − k) over the flow steps' robust z; slow_leak opens when S reaches h. */
  k: z.number().min(0).max(10).default(0.5),
  h: z.number().positive().max(10_000).default(20),
  /** Caps one step's contribution, so a spike or a burst's first steps do not fake a slow leak. */
  clip: z.number().positive().max(100).default(3),
  /** Consecutive steps with z below k that end a slow leak. */
  close_steps: z.number().int().min(1).max(10_000).default(12),
});

const nightFlowSchema = z
  .strictObject({
    /** The night window, local time of the site; may wrap midnight. */
    start: localTime.default('01:00'),
    end: localTime.default('05:00'),
    /** Nights kept in a zone's baseline, and nights needed before it is judged. */
    baseline_nights: z.number().int().min(3).max(366).default(28),
    min_nights: z.number().int().min(3).max(366).default(7),
    /** A night's minimum rises when it exceeds the baseline median by the larger of these. */
    min_rise_fraction: z.number().min(0).max(10).default(0.2),
    z_rise: z.number().min(0).max(100).default(4),
  })
  .refine((night) => night.start !== night.end, { message: 'the night window must not be empty', path: ['end'] })
  .refine((night) => night.min_nights <= night.baseline_nights, { message: 'min_nights must not exceed baseline_nights', path: ['min_nights'] });

const pumpTripSchema = z.strictObject({
  /** A running feedback must stay at 0 this long, with its run command still 1 at the end of it, to be a trip. */
  grace_ms: durationMs.default(5000),
});

const reportingSchema = z.strictObject({
  /** An open anomaly is reported again ('updated') when its magnitude has grown by this fraction since last reported. */
  update_growth: z.number().positive().max(100).default(0.5),
  /** Duration at which the persistence part of the confidence is full. */
  confidence_full_ms: durationMs.min(1000).default(30 * MINUTE_MS),
});

export const detectionSettingsSchema = z
  .strictObject({
    sensor: sensorSchema.prefault({}),
    alarms: alarmsSchema.prefault({}),
    pressure_drop: pressureDropSchema.prefault({}),
    flow_profile: flowProfileSchema.prefault({}),
    slow_leak: slowLeakSchema.prefault({}),
    night_flow: nightFlowSchema.prefault({}),
    pump_trip: pumpTripSchema.prefault({}),
    reporting: reportingSchema.prefault({}),
  })
  .refine((settings) => settings.flow_profile.step_ms <= settings.flow_profile.bucket_minutes * MINUTE_MS, {
    message: 'flow_profile.step_ms must not exceed a bucket',
    path: ['flow_profile', 'step_ms'],
  });
export type DetectionSettings = z.infer<typeof detectionSettingsSchema>;
