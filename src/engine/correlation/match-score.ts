// How strongly a complaint and an anomaly are about the same event: a pure score in 0..1 from
// place, time, the compatibility of the complaint's category with the anomaly's kind, and the
// detector's confidence. The correlator verifies a complaint by the best anomaly at or above the
// threshold.
import type { Anomaly } from '../../contracts/anomaly.js';
import type { CorrelationSettings } from '../../contracts/correlation-settings.js';
import { distanceM } from '../../contracts/geometry.js';
import type { EngineComplaint } from '../../contracts/incident.js';
import type { LatLon } from '../../contracts/site.js';

export type MatchSettings = CorrelationSettings['match'];

export interface MatchScore {
  score: number;
  compatible: boolean;
  place: number;
  time: number;
}

/**
 * score = compatible && place > 0 && time > 0
 *   ? weight_place·place + weight_time·time + weight_confidence·confidence
 *   : 0
 */
export function matchScore(complaint: EngineComplaint, anomaly: Anomaly, tagLocation: LatLon | undefined, settings: MatchSettings): MatchScore {
  const compatible = (settings.compatible[complaint.category] as readonly string[]).includes(anomaly.kind);
  const place = placeScore(complaint, anomaly, tagLocation, settings);
  const time = timeScore(complaint.reportedAtMs, anomaly, settings);
  if (!compatible || place <= 0 || time <= 0) return { score: 0, compatible, place, time };
  const confidence = Math.min(1, Math.max(0, anomaly.confidence));
  const score = settings.weight_place * place + settings.weight_time * time + settings.weight_confidence * confidence;
  return { score: Math.round(score * 1e6) / 1e6, compatible, place, time };
}

/**
 * 1 in the anomaly's own zone; otherwise falling linearly from 1 at the tag to 0 at max_distance_m
 * when both locations are known; sitewide_place_score for an anomaly of a sitewide kind on a tag with neither zone nor location.
 * The best of those that apply.
 */
export function placeScore(complaint: Pick<EngineComplaint, 'zone' | 'location'>, anomaly: Pick<Anomaly, 'zone' | 'kind'>, tagLocation: LatLon | undefined, settings: MatchSettings): number {
  let score = 0;
  if (anomaly.zone !== null && complaint.zone === anomaly.zone) score = 1;
  if (complaint.location !== null && tagLocation !== undefined) {
    score = Math.max(score, 1 - distanceM(complaint.location, tagLocation) / settings.max_distance_m);
  }
  if (anomaly.zone === null && tagLocation === undefined && (settings.sitewide_kinds as readonly string[]).includes(anomaly.kind)) score = Math.max(score, settings.sitewide_place_score);
  return Math.max(0, score);
}

/** 1 while the anomaly lasts; falling linearly to 0 over before_start_ms before it and after_end_ms after it. */
export function timeScore(reportedAtMs: number, anomaly: Pick<Anomaly, 'startMs' | 'endMs'>, settings: MatchSettings): number {
  if (reportedAtMs < anomaly.startMs) return linearFall(anomaly.startMs - reportedAtMs, settings.before_start_ms);
  if (anomaly.endMs !== null && reportedAtMs > anomaly.endMs) return linearFall(reportedAtMs - anomaly.endMs, settings.after_end_ms);
  return 1;
}

function linearFall(gapMs: number, windowMs: number): number {
  return gapMs >= windowMs ? 0 : 1 - gapMs / windowMs;
}
