// What the detectors report and the correlation engine consumes: anomalies in telemetry, each on
// event time (the timestamps in the data). Hydraulic anomalies are evidence of events in the
// network; sensor faults are evidence about an instrument and never verify a complaint or open a
// work order.

export const alarmLevels = ['very_low', 'low', 'high', 'very_high'] as const;
export type AlarmLevel = (typeof alarmLevels)[number];

/** Alarm-limit anomalies are named after what the tag measures: pressure_low, flow_very_high, ... (`value_` for other tag kinds). */
export const alarmAnomalyKinds = (['pressure', 'flow', 'level', 'value'] as const).flatMap((quantity) => alarmLevels.map((level) => `${quantity}_${level}` as const));

export const hydraulicAnomalyKinds = [
  ...alarmAnomalyKinds,
  /** Pressure falling faster than the configured rate over the window. */
  'pressure_drop',
  /** Flow above the tag's learned profile for this time of day and day of week. */
  'flow_above_profile',
  /** A small persistent rise of flow over its profile, found by CUSUM on the residuals. */
  'slow_leak',
  /** A zone's minimum night flow at its inlets above its learned level. */
  'night_flow_rise',
  /** A running pump stopped. */
  'pump_trip',
] as const;

export const sensorFaultKinds = [
  /** The value has not changed at all for longer than the instrument's noise allows. */
  'sensor_stuck',
  /** Values outside the tag's engineering range. */
  'sensor_out_of_range',
  /** No samples for longer than expected. */
  'sensor_gap',
  /** The source marks the samples bad. */
  'sensor_bad_quality',
] as const;

export type HydraulicAnomalyKind = (typeof hydraulicAnomalyKinds)[number];
export type SensorFaultKind = (typeof sensorFaultKinds)[number];
export type AnomalyKind = HydraulicAnomalyKind | SensorFaultKind;

const sensorKinds: ReadonlySet<string> = new Set(sensorFaultKinds);
export function isSensorFault(kind: AnomalyKind): kind is SensorFaultKind {
  return sensorKinds.has(kind);
}

export interface Anomaly {
  /** Deterministic: the same data gives the same id (tag, kind and start), live or in replay. */
  id: string;
  kind: AnomalyKind;
  tag: string;
  /** The tag's zone, or the zone whose inlet it meters; null for tags serving no one zone. */
  zone: string | null;
  /** Event time, epoch ms. */
  startMs: number;
  /** Event time the anomaly cleared; null while it lasts. */
  endMs: number | null;
  /** How far from normal, in the tag's unit (for alarms: beyond the limit; for a drop: the fall; for flow: the excess). */
  magnitude: number;
  unit: string;
  /** 0..1: how sure the detector is that this is real. */
  confidence: number;
  /** One line for an operator, such as "pressure 8.2 m below lo 15 m". */
  detail: string;
}

export type AnomalyEventType = 'opened' | 'updated' | 'closed';

export interface AnomalyEvent {
  type: AnomalyEventType;
  /** Event time of the change, epoch ms. */
  atMs: number;
  anomaly: Anomaly;
}

/** One telemetry sample as the engine sees it: quality 0 good, 1 uncertain, 2 bad. */
export interface EngineSample {
  tag: string;
  timeMs: number;
  value: number | null;
  quality: 0 | 1 | 2;
}

/** The replay output's (and the API's) shape of an anomaly: ISO 8601 times. */
export function anomalyToJson(anomaly: Anomaly) {
  return {
    id: anomaly.id,
    kind: anomaly.kind,
    tag: anomaly.tag,
    zone: anomaly.zone,
    start: new Date(anomaly.startMs).toISOString(),
    end: anomaly.endMs === null ? null : new Date(anomaly.endMs).toISOString(),
    magnitude: anomaly.magnitude,
    unit: anomaly.unit,
    confidence: anomaly.confidence,
    detail: anomaly.detail,
  };
}
