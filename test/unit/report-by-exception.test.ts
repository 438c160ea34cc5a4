// Report by exception, as a table: each case is the last published sample, the tag's deadband
// and range, the new sample and how long since the last publication.
import { expect } from 'chai';
import { ReportByException, shouldPublish, type ExceptionPolicy, type LastPublished } from '../../connectors/publisher/report-by-exception.js';
import type { Sample } from '../../src/contracts/telemetry.js';

const MAX_INTERVAL_MS = 60_000;
const good = (value: number | null): Pick<Sample, 'value' | 'quality'> => ({ value, quality: value === null ? 'bad' : 'good' });
const last = (value: number | null, quality: LastPublished['quality'] = value === null ? 'bad' : 'good'): LastPublished => ({ value, quality, publishedAtMs: 0 });

describe('report by exception', () => {
  const cases: Array<{ name: string; last?: LastPublished; policy?: ExceptionPolicy; sample: Pick<Sample, 'value' | 'quality'>; elapsedMs?: number; publish: boolean }> = [
    { name: 'the first sample of a tag', sample: good(5), publish: true },
    { name: 'an unchanged value', last: last(5), sample: good(5), publish: false },
    { name: 'any change without a deadband', last: last(5), sample: good(5.0001), publish: true },
    { name: 'a quality change with the same value', last: last(5), sample: { value: 5, quality: 'uncertain' }, publish: true },
    { name: 'a failed read after a good one', last: last(5), sample: good(null), policy: { deadband: { absolute: 100 } }, publish: true },
    { name: 'a repeated failed read', last: last(null), sample: good(null), publish: false },
    { name: 'within an absolute deadband', last: last(10), policy: { deadband: { absolute: 0.5 } }, sample: good(10.4), publish: false },
    { name: 'exactly at an absolute deadband', last: last(10), policy: { deadband: { absolute: 0.5 } }, sample: good(10.5), publish: false },
    { name: 'beyond an absolute deadband, downwards', last: last(10), policy: { deadband: { absolute: 0.5 } }, sample: good(9.4), publish: true },
    { name: 'within a percent of the range', last: last(50), policy: { deadband: { percent: 1 }, range: { min: 0, max: 200 } }, sample: good(51.9), publish: false },
    { name: 'beyond a percent of the range', last: last(50), policy: { deadband: { percent: 1 }, range: { min: 0, max: 200 } }, sample: good(52.1), publish: true },
    { name: 'within a percent of the last value (no range)', last: last(-200), policy: { deadband: { percent: 1 } }, sample: good(-198.5), publish: false },
    { name: 'beyond a percent of the last value (no range)', last: last(-200), policy: { deadband: { percent: 1 } }, sample: good(-197.9), publish: true },
    { name: 'unchanged, just before the republish period', last: last(5), sample: good(5), elapsedMs: MAX_INTERVAL_MS - 1, publish: false },
    { name: 'unchanged, at the republish period', last: last(5), sample: good(5), elapsedMs: MAX_INTERVAL_MS, publish: true },
    { name: 'within the deadband, past the republish period', last: last(10), policy: { deadband: { absolute: 1 } }, sample: good(10.2), elapsedMs: 90_000, publish: true },
  ];
  for (const testCase of cases) {
    it(`${testCase.publish ? 'publishes' : 'holds back'} ${testCase.name}`, () => {
      expect(shouldPublish(testCase.sample, testCase.last, testCase.policy ?? {}, testCase.elapsedMs ?? 1000, MAX_INTERVAL_MS)).to.equal(testCase.publish);
    });
  }

  it('compares with the last published value, so a slow drift is published once it adds up', () => {
    const filter = new ReportByException(new Map([['p', { deadband: { absolute: 1 } }]]), MAX_INTERVAL_MS);
    const published = [10, 10.4, 10.8, 11.2, 11.6, 12.4].filter((value, index) => filter.filter([{ tag: 'p', value, quality: 'good', source_ts_ms: index }], index * 1000).length > 0);
    expect(published).to.deep.equal([10, 11.2, 12.4]);
  });

  it('filters each tag of a reading by its own policy; unknown tags publish on change', () => {
    const filter = new ReportByException(new Map([['coarse', { deadband: { absolute: 5 } }]]), MAX_INTERVAL_MS);
    const reading = (coarse: number, other: number, atMs: number) =>
      filter.filter([
        { tag: 'coarse', value: coarse, quality: 'good', source_ts_ms: atMs },
        { tag: 'other', value: other, quality: 'good', source_ts_ms: atMs },
      ], atMs).map((sample) => sample.tag);
    expect(reading(0, 0, 0)).to.deep.equal(['coarse', 'other']);
    expect(reading(1, 0, 1000)).to.deep.equal([]);
    expect(reading(2, 1, 2000)).to.deep.equal(['other']);
    expect(reading(6, 1, 3000)).to.deep.equal(['coarse']);
    expect(reading(6, 1, 63_000)).to.deep.equal(['coarse', 'other']);
  });

  it('publishes every sample with a republish period of 0', () => {
    const filter = new ReportByException(new Map(), 0);
    expect([1, 1, 1].map((value, index) => filter.filter([{ tag: 't', value, quality: 'good', source_ts_ms: index }], index).length)).to.deep.equal([1, 1, 1]);
  });
});
