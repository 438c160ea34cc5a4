// Minimum night flow of a zone (a DMA): each inlet tag reports the lowest step mean of its flow in
// the night window; once every inlet has reported a night, the zone's night flow is the sum of
// those minima, judged against the zone's recent normal nights (median and MAD). A night above
// the baseline by the larger of `min_rise_fraction` of its median and `z_rise` robust sigmas
// opens night_flow_rise for the zone (start: the start of that night's window; confirmed at its
// end); the first night back below closes it. Rising nights are kept out of the baseline.
import type { DetectionSettings } from '../../contracts/detection-settings.js';
import { confidenceOf, formatNumber, type AnomalyLedger, type OpenAnomaly } from './anomaly-ledger.js';
import { MAD_TO_SIGMA, madInPlace, medianInPlace } from './robust-stats.js';

interface NightTally {
  sum: number;
  reported: number;
  startMs: number;
  endMs: number;
}

export class NightFlowZone {
  private readonly tallies = new Map<number, NightTally>();
  private readonly baseline: Float64Array;
  private readonly scratch: Float64Array;
  private baselineCount = 0;
  private baselineNext = 0;
  private open: OpenAnomaly | null = null;

  constructor(
    readonly zone: string,
    private readonly inletTags: readonly string[],
    private readonly unit: string,
    private readonly settings: DetectionSettings['night_flow'],
    private readonly confidenceFullMs: number,
    private readonly ledger: AnomalyLedger,
  ) {
    this.baseline = new Float64Array(settings.baseline_nights);
    this.scratch = new Float64Array(settings.baseline_nights);
  }

  /** One inlet's minimum for the night `nightKey` (its local day number). Inlets report their nights in order. */
  report(nightKey: number, minimum: number, startMs: number, endMs: number): void {
    let tally = this.tallies.get(nightKey);
    if (tally === undefined) {
      tally = { sum: 0, reported: 0, startMs, endMs };
      this.tallies.set(nightKey, tally);
    }
    tally.sum += minimum;
    tally.reported += 1;
    if (tally.reported < this.inletTags.length) return;
    // Every inlet is past this night: older nights some inlet never reported will not complete.
    for (const key of this.tallies.keys()) if (key <= nightKey) this.tallies.delete(key);
    this.judge(tally);
  }

  /** Forget open state and half-reported nights; the baseline stays. */
  reset(): void {
    this.tallies.clear();
    this.open = null;
  }

  private judge(night: NightTally): void {
    const flow = night.sum;
    if (this.baselineCount < this.settings.min_nights) {
      this.learn(flow);
      return;
    }
    this.scratch.set(this.baseline.subarray(0, this.baselineCount));
    const median = medianInPlace(this.scratch, this.baselineCount);
    const sigma = MAD_TO_SIGMA * madInPlace(this.scratch, this.baselineCount, median);
    const threshold = Math.max(this.settings.min_rise_fraction * Math.abs(median), this.settings.z_rise * sigma, 1e-9);
    const rise = flow - median;
    const detail = `minimum night flow ${formatNumber(flow)} ${this.unit}, ${formatNumber(rise)} ${this.unit} above the usual ${formatNumber(median)} ${this.unit}`;
    if (rise >= threshold) {
      if (this.open === null) {
        const opening = { kind: 'night_flow_rise', tag: this.inletTags[0]!, zone: this.zone, idScope: this.zone, startMs: night.startMs, magnitude: rise, unit: this.unit, detail } as const;
        this.open = this.ledger.openAnomaly({ ...opening, confidence: confidenceOf(rise / threshold - 1, night.endMs - night.startMs, this.confidenceFullMs) }, night.endMs);
      } else if (rise > this.open.anomaly.magnitude) {
        this.ledger.grow(this.open, rise, confidenceOf(rise / threshold - 1, night.endMs - this.open.anomaly.startMs, this.confidenceFullMs), detail, night.endMs);
      }
      return;
    }
    if (this.open !== null) {
      this.ledger.close(this.open, night.startMs, night.endMs);
      this.open = null;
    }
    this.learn(flow);
  }

  private learn(flow: number): void {
    this.baseline[this.baselineNext] = flow;
    this.baselineNext = (this.baselineNext + 1) % this.baseline.length;
    this.baselineCount = Math.min(this.baselineCount + 1, this.baseline.length);
  }
}
