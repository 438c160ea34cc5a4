// The streaming detectors on synthetic series: each detector fires for its event with the right
// kind, zone, start and magnitude, stays quiet on noise, diurnal demand and single spikes; sensor
// faults come out as faults and silence the tag's hydraulic detectors; the same samples give the
// same events however often the watermark moves.
import { expect } from 'chai';
import { mulberry32 } from '../../simulators/random.js';
import { isSensorFault, type AnomalyEvent, type AnomalyKind, type EngineSample } from '../../src/contracts/anomaly.js';
import { siteConfigSchema, type SiteConfig } from '../../src/contracts/site.js';
import { DetectorBank } from '../../src/engine/detectors/detector-bank.js';

const SECOND = 1000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 2, 2, 0, 0, 0); // a Monday
const square = (lon: number) => ({ type: 'Polygon', coordinates: [[[lon, -6.9], [lon + 0.02, -6.9], [lon + 0.02, -6.885], [lon, -6.885], [lon, -6.9]]] });

function town(timezone = 'UTC', detection: Record<string, unknown> = {}): SiteConfig {
  return siteConfigSchema.parse({
    site: { id: 'town', name: 'Town', timezone },
    zones: [
      { id: 'dma-1', name: 'DMA 1', customers: 4000, boundary: square(107.6), inlet_tags: ['d1.inlet'] },
      { id: 'dma-2', name: 'DMA 2', customers: 2000, boundary: square(107.7) },
    ],
    tags: [
      { id: 'd1.pressure', kind: 'pressure', unit: 'm', zone: 'dma-1', range: { min: 0, max: 100 }, alarms: { lolo: 5, lo: 15, deadband: 1, on_delay_s: 120, off_delay_s: 300 } },
      // No zone of its own: it is the inlet of dma-1.
      { id: 'd1.inlet', kind: 'flow', unit: 'm3/h', range: { min: 0, max: 2000 } },
      { id: 'ps.pump1.run', kind: 'pump_status', unit: 'bool' },
      { id: 'ps.pump1.running', kind: 'pump_status', unit: 'bool' },
      { id: 'well.pump.running', kind: 'pump_status', unit: 'bool' },
    ],
    detection,
  });
}

type Value = number | null;

/** Samples of one tag every `stepMs` in [fromMs, toMs). */
function series(tag: string, fromMs: number, toMs: number, stepMs: number, valueAt: (timeMs: number) => Value, quality: (timeMs: number) => 0 | 1 | 2 = () => 0): EngineSample[] {
  const samples: EngineSample[] = [];
  for (let timeMs = fromMs; timeMs < toMs; timeMs += stepMs) samples.push({ tag, timeMs, value: valueAt(timeMs), quality: quality(timeMs) });
  return samples;
}

function merged(...parts: EngineSample[][]): EngineSample[] {
  return parts.flat().sort((a, b) => a.timeMs - b.timeMs);
}

/** Feeds samples, moving the watermark before every `advanceEvery`-th sample (never when null), and to `endMs` at the end. */
function run(bank: DetectorBank, samples: EngineSample[], endMs: number, advanceEvery: number | null = 1): AnomalyEvent[] {
  const events: AnomalyEvent[] = [];
  samples.forEach((sample, index) => {
    if (advanceEvery !== null && index % advanceEvery === 0) events.push(...bank.advanceTo(sample.timeMs));
    events.push(...bank.observe(sample));
  });
  events.push(...bank.advanceTo(endMs));
  return events;
}

const opened = (events: AnomalyEvent[], kind: AnomalyKind) => events.filter((event) => event.type === 'opened' && event.anomaly.kind === kind);
const closed = (events: AnomalyEvent[], kind: AnomalyKind) => events.filter((event) => event.type === 'closed' && event.anomaly.kind === kind);
const hydraulic = (events: AnomalyEvent[]) => events.filter((event) => !isSensorFault(event.anomaly.kind));
const kindsOf = (events: AnomalyEvent[]) => [...new Set(events.map((event) => event.anomaly.kind))].sort();

/** Pressure around 40 m with ±0.3 m noise, every minute, or `override` where it gives a value. */
function pressure(fromMs: number, toMs: number, override: (timeMs: number) => Value | undefined = () => undefined, seed = 7): EngineSample[] {
  const random = mulberry32(seed);
  return series('d1.pressure', fromMs, toMs, MINUTE, (timeMs) => {
    const noise = (random() - 0.5) * 0.6;
    const value = override(timeMs);
    return value === undefined ? 40 + noise : value;
  });
}

/** Diurnal inlet flow (40 m3/h at night, 160 at the evening peak) with ±2 % noise, every 5 minutes, in the site's local time. */
function inletFlow(fromMs: number, toMs: number, offsetMs = 0, extra: (timeMs: number) => number = () => 0, seed = 11): EngineSample[] {
  const random = mulberry32(seed);
  return series('d1.inlet', fromMs, toMs, 5 * MINUTE, (timeMs) => {
    const hour = (((timeMs + offsetMs) % DAY) + DAY) % DAY / HOUR;
    const base = 100 + 60 * Math.sin((2 * Math.PI * (hour - 12)) / 24);
    return base * (1 + (random() - 0.5) * 0.04) + extra(timeMs);
  });
}

describe('detector alarm limits', () => {
  it('raises pressure_low after the on-delay, from when the value went below, and clears after the deadband and off-delay', () => {
    const lowFrom = T0 + 10 * MINUTE;
    const events = run(new DetectorBank(town()), pressure(T0, T0 + 2 * HOUR, (timeMs) => (timeMs >= lowFrom && timeMs < T0 + 40 * MINUTE ? 12 : timeMs >= T0 + 40 * MINUTE && timeMs < T0 + 60 * MINUTE ? 15.5 : undefined)), T0 + 2 * HOUR);
    const [open] = opened(events, 'pressure_low');
    expect(opened(events, 'pressure_low')).to.have.length(1);
    expect(open!.anomaly).to.include({ tag: 'd1.pressure', zone: 'dma-1', startMs: lowFrom, magnitude: 3, unit: 'm', id: `pressure_low:d1.pressure:${lowFrom}` });
    expect(open!.atMs).to.equal(lowFrom + 2 * MINUTE);
    // 15.5 m is inside the limit by less than the deadband: still low until pressure is back at 40 m.
    const [close] = closed(events, 'pressure_low');
    expect(close!.anomaly.endMs).to.equal(T0 + 60 * MINUTE);
    expect(close!.atMs).to.equal(T0 + 65 * MINUTE);
    expect(opened(events, 'pressure_very_low')).to.have.length(0);
    expect(open!.anomaly.confidence).to.be.within(0.5, 1);
  });

  it('stays quiet on noise and on a single spike below lolo', () => {
    const spikeAt = T0 + 30 * MINUTE;
    const events = run(new DetectorBank(town()), pressure(T0, T0 + 3 * HOUR, (timeMs) => (timeMs === spikeAt ? 2 : undefined)), T0 + 3 * HOUR);
    expect(events).to.deep.equal([]);
  });

  it('does not raise a limit crossed for less than the on-delay', () => {
    // Every 30 s: below lo at 10:00, 10:30 and 11:00, back at 11:30: 90 s below, on-delay 120 s.
    const samples = series('d1.pressure', T0, T0 + HOUR, 30 * SECOND, (timeMs) => (timeMs >= T0 + 10 * MINUTE && timeMs <= T0 + 11 * MINUTE ? 12 : 40 + (timeMs % 7) / 10));
    const events = run(new DetectorBank(town()), samples, T0 + HOUR);
    expect(opened(events, 'pressure_low')).to.deep.equal([]);
    expect(opened(events, 'pressure_very_low')).to.deep.equal([]);
  });
});

describe('detector pressure drop', () => {
  it('reports a fast fall with its size, starting where the fall began', () => {
    const fallFrom = T0 + 30 * MINUTE;
    const bank = new DetectorBank(town());
    const events = run(bank, pressure(T0, T0 + 2 * HOUR, (timeMs) => (timeMs < fallFrom ? undefined : Math.max(28, 40 - (2 * (timeMs - fallFrom)) / MINUTE))), T0 + 2 * HOUR);
    const drops = opened(events, 'pressure_drop');
    expect(drops).to.have.length(1);
    const drop = drops[0]!.anomaly;
    expect(drop.zone).to.equal('dma-1');
    expect(drop.startMs).to.be.within(fallFrom - 15 * MINUTE, fallFrom);
    expect(drops[0]!.atMs).to.be.within(fallFrom + 3 * MINUTE, fallFrom + 8 * MINUTE);
    // Reported again as it deepened; the open anomaly holds the whole fall.
    expect(events.filter((event) => event.type === 'updated' && event.anomaly.id === drop.id)).to.have.length.at.most(2);
    expect(bank.openAnomalies().find((anomaly) => anomaly.id === drop.id)!.magnitude).to.be.within(11.4, 12.7);
    // 28 m is above the lo limit: no alarm, only the drop.
    expect(kindsOf(hydraulic(events))).to.deep.equal(['pressure_drop']);
  });

  it('keeps the window\'s highest value at 1-second samples through a long slow decline before the fall', () => {
    // A steady decline keeps every sample a candidate maximum: the window holds hundreds of them.
    const declineFrom = T0 + 10 * MINUTE;
    const fallFrom = declineFrom + 20 * MINUTE;
    const valueAt = (timeMs: number) =>
      timeMs < declineFrom ? 40 : timeMs < fallFrom ? 40 - (0.05 * (timeMs - declineFrom)) / MINUTE : Math.max(25, 39 - (2 * (timeMs - fallFrom)) / MINUTE);
    const bank = new DetectorBank(town());
    const events = run(bank, series('d1.pressure', T0, T0 + HOUR, 1000, valueAt), T0 + HOUR, 60);
    const drops = opened(events, 'pressure_drop');
    expect(drops).to.have.length(1);
    // The highest value of the 15-minute window is its oldest sample: 900 samples back, not the last few dozen.
    expect(drops[0]!.anomaly.startMs).to.be.within(drops[0]!.atMs - 15 * MINUTE - 2000, drops[0]!.atMs - 15 * MINUTE + 2000);
  });

  it('does not take a slow diurnal decline or a single low sample for a drop', () => {
    const events = run(new DetectorBank(town()), pressure(T0, T0 + 6 * HOUR, (timeMs) => (timeMs === T0 + 2 * HOUR ? 20 : 45 - (10 * (timeMs - T0)) / (6 * HOUR))), T0 + 6 * HOUR);
    expect(events).to.deep.equal([]);
  });
});

describe('detector flow profile and slow leak', () => {
  const learnedUntil = T0 + 21 * DAY;
  const learned = () => {
    const bank = new DetectorBank(town());
    bank.learn(inletFlow(T0, learnedUntil));
    return bank;
  };

  it('stays quiet for a week of ordinary diurnal demand after learning three weeks', () => {
    const events = run(learned(), inletFlow(learnedUntil, learnedUntil + 7 * DAY, 0, () => 0, 99), learnedUntil + 7 * DAY);
    expect(events).to.deep.equal([]);
  });

  it('opens flow_above_profile on a burst, with the zone of the inlet, its start and excess', () => {
    const burstFrom = learnedUntil + 10 * HOUR;
    const burstTo = burstFrom + 2 * HOUR;
    const events = run(learned(), inletFlow(learnedUntil, learnedUntil + DAY, 0, (timeMs) => (timeMs >= burstFrom && timeMs < burstTo ? 50 : 0), 99), learnedUntil + DAY);
    const [open] = opened(events, 'flow_above_profile');
    expect(opened(events, 'flow_above_profile')).to.have.length(1);
    expect(open!.anomaly).to.include({ tag: 'd1.inlet', zone: 'dma-1', startMs: burstFrom, unit: 'm3/h' });
    expect(open!.atMs).to.equal(burstFrom + 10 * MINUTE);
    const [close] = closed(events, 'flow_above_profile');
    expect(close!.anomaly.endMs).to.equal(burstTo);
    expect(close!.anomaly.magnitude).to.be.within(45, 62);
    expect(opened(events, 'slow_leak')).to.have.length(0);
  });

  it('ignores a single spike', () => {
    const spikeAt = learnedUntil + 9 * HOUR;
    const events = run(learned(), inletFlow(learnedUntil, learnedUntil + DAY, 0, (timeMs) => (timeMs === spikeAt ? 400 : 0), 99), learnedUntil + DAY);
    expect(events).to.deep.equal([]);
  });

  it('does not judge before a bucket has history (replay from nothing)', () => {
    const events = run(new DetectorBank(town()), inletFlow(T0, T0 + 10 * DAY, 0, (timeMs) => (timeMs >= T0 + 9 * DAY + 10 * HOUR && timeMs < T0 + 9 * DAY + 12 * HOUR ? 50 : 0)), T0 + 10 * DAY);
    expect(hydraulic(events)).to.deep.equal([]);
  });

  it('finds a small persistent rise with CUSUM as slow_leak, not as flow above profile', () => {
    const leakFrom = learnedUntil + 8 * HOUR;
    const events = run(learned(), inletFlow(learnedUntil, learnedUntil + 2 * DAY, 0, (timeMs) => (timeMs >= leakFrom ? 3 : 0), 99), learnedUntil + 2 * DAY);
    const leaks = opened(events, 'slow_leak');
    expect(leaks).to.have.length(1);
    expect(leaks[0]!.anomaly).to.include({ tag: 'd1.inlet', zone: 'dma-1' });
    expect(leaks[0]!.anomaly.startMs).to.be.within(leakFrom - HOUR, leakFrom + HOUR);
    expect(leaks[0]!.atMs).to.be.below(leakFrom + 12 * HOUR);
    expect(leaks[0]!.anomaly.magnitude).to.be.within(1.5, 4.5);
    expect(opened(events, 'flow_above_profile')).to.have.length(0);
  });
});

describe('detector night flow', () => {
  it('opens night_flow_rise for the zone when a night minimum rises, on the local night window', () => {
    const jakarta = 7 * HOUR;
    const bank = new DetectorBank(town('Asia/Jakarta'));
    const learnedUntil = T0 + 21 * DAY - jakarta; // local midnight
    bank.learn(inletFlow(T0 - jakarta, learnedUntil, jakarta));
    // From local 20:00 on the first live day the zone takes 40 m3/h more.
    const riseFrom = learnedUntil + 20 * HOUR;
    const events = run(bank, inletFlow(learnedUntil, learnedUntil + 3 * DAY, jakarta, (timeMs) => (timeMs >= riseFrom ? 40 : 0), 99), learnedUntil + 3 * DAY);
    const nights = opened(events, 'night_flow_rise');
    expect(nights).to.have.length(1);
    const night = nights[0]!;
    // The window is 01:00-05:00 Jakarta time of the next local day: 18:00-22:00 UTC.
    expect(night.anomaly).to.include({ zone: 'dma-1', tag: 'd1.inlet', startMs: learnedUntil + DAY + HOUR, id: `night_flow_rise:dma-1:${learnedUntil + DAY + HOUR}` });
    expect(new Date(night.anomaly.startMs).getUTCHours()).to.equal(18);
    expect(night.atMs).to.equal(learnedUntil + DAY + 5 * HOUR);
    expect(night.anomaly.magnitude).to.be.within(35, 45);
  });

  it('stays quiet over ordinary nights', () => {
    const bank = new DetectorBank(town());
    bank.learn(inletFlow(T0, T0 + 14 * DAY));
    const events = run(bank, inletFlow(T0 + 14 * DAY, T0 + 21 * DAY, 0, () => 0, 5), T0 + 21 * DAY);
    expect(opened(events, 'night_flow_rise')).to.deep.equal([]);
  });
});

describe('detector pump trip', () => {
  const end = T0 + 10 * MINUTE;
  const status = (tag: string, change: Array<[number, number]>) => series(tag, T0, end, SECOND, (timeMs) => change.filter(([atMs]) => timeMs >= atMs).at(-1)![1]);

  it('reports a running feedback dropping while its run command stays on, until it runs again', () => {
    const tripAt = T0 + 5 * MINUTE;
    const events = run(new DetectorBank(town()), merged(status('ps.pump1.run', [[T0, 1]]), status('ps.pump1.running', [[T0, 1], [tripAt, 0], [T0 + 8 * MINUTE, 1]])), end);
    const [trip] = opened(events, 'pump_trip');
    expect(opened(events, 'pump_trip')).to.have.length(1);
    expect(trip!.anomaly).to.include({ tag: 'ps.pump1.running', zone: null, startMs: tripAt, confidence: 0.9 });
    expect(trip!.atMs).to.equal(tripAt + 5 * SECOND);
    expect(closed(events, 'pump_trip')[0]!.anomaly.endMs).to.equal(T0 + 8 * MINUTE);
  });

  it('does not take a commanded stop or a short blip for a trip', () => {
    const events = run(
      new DetectorBank(town()),
      merged(status('ps.pump1.run', [[T0, 1], [T0 + 5 * MINUTE, 0]]), status('ps.pump1.running', [[T0, 1], [T0 + 2 * MINUTE, 0], [T0 + 2 * MINUTE + 2 * SECOND, 1], [T0 + 5 * MINUTE + 2 * SECOND, 0]])),
      end,
    );
    expect(events).to.deep.equal([]);
  });

  it('treats any stop of a pump with no command tag as a trip, with lower confidence', () => {
    const events = run(new DetectorBank(town()), status('well.pump.running', [[T0, 1], [T0 + 3 * MINUTE, 0]]), end);
    expect(opened(events, 'pump_trip').map((event) => [event.anomaly.startMs, event.anomaly.confidence])).to.deep.equal([[T0 + 3 * MINUTE, 0.6]]);
  });
});

describe('detector sensor faults', () => {
  it('reports an out-of-range pressure as a sensor fault only, never as very low pressure', () => {
    const from = T0 + 20 * MINUTE;
    const events = run(new DetectorBank(town()), pressure(T0, T0 + 2 * HOUR, (timeMs) => (timeMs >= from && timeMs < from + 30 * MINUTE ? -8 : undefined)), T0 + 2 * HOUR);
    expect(kindsOf(events)).to.deep.equal(['sensor_out_of_range']);
    expect(opened(events, 'sensor_out_of_range')[0]!.anomaly).to.include({ startMs: from, magnitude: 8, zone: 'dma-1' });
    expect(closed(events, 'sensor_out_of_range')[0]!.anomaly.endMs).to.equal(from + 30 * MINUTE);
  });

  it('reports a frozen value as stuck, and a dropout as bad quality', () => {
    const frozenFrom = T0 + 30 * MINUTE;
    const frozenTo = frozenFrom + 3 * HOUR;
    const stuck = run(new DetectorBank(town()), pressure(T0, T0 + 5 * HOUR, (timeMs) => (timeMs >= frozenFrom && timeMs < frozenTo ? 40 : undefined)), T0 + 5 * HOUR);
    expect(kindsOf(stuck)).to.deep.equal(['sensor_stuck']);
    expect(opened(stuck, 'sensor_stuck')[0]!.anomaly.startMs).to.equal(frozenFrom);
    expect(opened(stuck, 'sensor_stuck')[0]!.atMs).to.equal(frozenFrom + 2 * HOUR);
    expect(closed(stuck, 'sensor_stuck')[0]!.anomaly.endMs).to.equal(frozenTo);

    const dropFrom = T0 + 30 * MINUTE;
    const samples = pressure(T0, T0 + 2 * HOUR).map((sample) => (sample.timeMs >= dropFrom && sample.timeMs < dropFrom + 20 * MINUTE ? { ...sample, value: null, quality: 2 as const } : sample));
    const dropout = run(new DetectorBank(town()), samples, T0 + 2 * HOUR);
    expect(kindsOf(dropout)).to.deep.equal(['sensor_bad_quality']);
    expect(opened(dropout, 'sensor_bad_quality')[0]!.anomaly.startMs).to.equal(dropFrom);
  });

  it('reports a data gap from the last sample to the next', () => {
    const silentFrom = T0 + 30 * MINUTE;
    const samples = pressure(T0, T0 + 2 * HOUR).filter((sample) => sample.timeMs < silentFrom || sample.timeMs >= silentFrom + 30 * MINUTE);
    const events = run(new DetectorBank(town()), samples, T0 + 2 * HOUR);
    expect(kindsOf(events)).to.deep.equal(['sensor_gap']);
    const [open] = opened(events, 'sensor_gap');
    expect(open!.anomaly.startMs).to.equal(silentFrom - MINUTE);
    expect(open!.atMs).to.equal(silentFrom - MINUTE + 5 * MINUTE);
    expect(closed(events, 'sensor_gap')[0]!.anomaly.endMs).to.equal(silentFrom + 30 * MINUTE);
  });

  it('ends an open alarm when the instrument fails, and raises nothing while it is failed', () => {
    const lowFrom = T0 + 10 * MINUTE;
    const failFrom = T0 + 30 * MINUTE;
    const samples = pressure(T0, T0 + 2 * HOUR, (timeMs) => (timeMs >= lowFrom && timeMs < T0 + HOUR ? 12 : undefined)).map((sample) =>
      sample.timeMs >= failFrom && sample.timeMs < T0 + 90 * MINUTE ? { ...sample, value: null, quality: 2 as const } : sample,
    );
    const events = run(new DetectorBank(town()), samples, T0 + 2 * HOUR);
    expect(opened(events, 'pressure_low')).to.have.length(1);
    expect(closed(events, 'pressure_low')[0]!.anomaly.endMs).to.equal(failFrom);
    expect(opened(events, 'sensor_bad_quality')).to.have.length(1);
    expect(hydraulic(events).filter((event) => event.atMs > failFrom)).to.deep.equal([]);
  });
});

describe('detector bank', () => {
  it('gives the same events however often the watermark moves', () => {
    const scenario = () =>
      merged(
        pressure(T0, T0 + 3 * HOUR, (timeMs) => (timeMs >= T0 + 20 * MINUTE && timeMs < T0 + 50 * MINUTE ? 3 : undefined)).filter((sample) => sample.timeMs < T0 + 100 * MINUTE || sample.timeMs >= T0 + 120 * MINUTE),
        series('ps.pump1.run', T0, T0 + 3 * HOUR, 10 * SECOND, () => 1),
        series('ps.pump1.running', T0, T0 + 3 * HOUR, 10 * SECOND, (timeMs) => (timeMs >= T0 + HOUR && timeMs < T0 + 2 * HOUR ? 0 : 1)),
      );
    const canonical = (events: AnomalyEvent[]) => events.map((event) => JSON.stringify(event)).sort();
    const everySample = canonical(run(new DetectorBank(town()), scenario(), T0 + 4 * HOUR, 1));
    expect(kindsOf(everySample.map((text) => JSON.parse(text) as AnomalyEvent))).to.deep.equal(['pressure_drop', 'pressure_low', 'pressure_very_low', 'pump_trip', 'sensor_gap']);
    for (const cadence of [7, 1000, null]) expect(canonical(run(new DetectorBank(town()), scenario(), T0 + 4 * HOUR, cadence)), `advance every ${cadence}`).to.deep.equal(everySample);
  });

  it('counts and ignores unknown tags and samples not newer than their tag’s last', () => {
    const bank = new DetectorBank(town());
    bank.observe({ tag: 'd1.pressure', timeMs: T0, value: 40, quality: 0 });
    bank.observe({ tag: 'd1.pressure', timeMs: T0, value: 2, quality: 0 });
    bank.observe({ tag: 'd1.pressure', timeMs: T0 - MINUTE, value: 2, quality: 0 });
    bank.observe({ tag: 'nowhere', timeMs: T0, value: 1, quality: 0 });
    expect(bank.counters).to.deep.equal({ samples: 4, outOfOrder: 2, unknownTags: 1 });
  });

  it('lists what is open, and learning from history reports nothing and leaves nothing open', () => {
    const bank = new DetectorBank(town());
    bank.learn(pressure(T0, T0 + HOUR, () => 3));
    expect(bank.openAnomalies()).to.deep.equal([]);
    run(bank, pressure(T0 + HOUR, T0 + 2 * HOUR, () => 3), T0 + 2 * HOUR);
    expect(bank.openAnomalies().map((anomaly) => anomaly.kind).sort()).to.deep.equal(['pressure_low', 'pressure_very_low']);
  });
});
