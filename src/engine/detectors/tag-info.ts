// What the detectors need to know about a tag, resolved once from the site config.
import type { AlarmLimits, TagKind } from '../../contracts/site.js';

export interface TagInfo {
  id: string;
  kind: TagKind;
  unit: string;
  /** The tag's zone, or the zone whose inlet it meters. */
  zone: string | null;
  range: { min: number; max: number } | null;
  alarms: AlarmLimits | null;
}
