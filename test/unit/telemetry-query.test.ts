import { expect } from 'chai';
import {
  bucketsToCsv,
  chooseSource,
  defaultStepMs,
  fillBuckets,
  formatStep,
  parseStep,
  planBuckets,
  type TelemetrySource,
} from '../../src/storage/telemetry-query.js';

const SECOND = 1_000;
const MINUTE = 60_000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);

describe('telemetry query planning', () => {
  describe('step parsing', () => {
    const cases: Array<{ text: string; stepMs?: number; error?: string }> = [
      { text: '10s', stepMs: 10 * SECOND },
      { text: '1m', stepMs: MINUTE },
      { text: '15m', stepMs: 15 * MINUTE },
      { text: '1h', stepMs: HOUR },
      { text: '1d', stepMs: DAY },
      { text: '90s', stepMs: 90 * SECOND },
      { text: '400d', stepMs: 400 * DAY },
      { text: '401d', error: 'must not exceed 400d' },
      { text: '5w', error: 'unknown step unit "w"' },
      { text: '5ms', error: 'unknown step unit "ms"' },
      { text: '0s', error: 'at least 1' },
      { text: 'm', error: 'whole number and a unit' },
      { text: '1.5h', error: 'whole number and a unit' },
      { text: '-1m', error: 'whole number and a unit' },
      { text: '', error: 'whole number and a unit' },
    ];
    for (const testCase of cases) {
      it(`${JSON.stringify(testCase.text)} -> ${testCase.stepMs ?? testCase.error}`, () => {
        const parsed = parseStep(testCase.text);
        if (testCase.stepMs !== undefined) expect(parsed).to.deep.equal({ ok: true, stepMs: testCase.stepMs });
        else expect(parsed.ok === false && parsed.message).to.contain(testCase.error);
      });
    }

    const formats: Array<[number, string]> = [[10 * SECOND, '10s'], [MINUTE, '1m'], [90 * SECOND, '90s'], [2 * HOUR, '2h'], [36 * HOUR, '36h'], [7 * DAY, '7d']];
    for (const [stepMs, text] of formats) it(`formats ${stepMs} ms as ${text}`, () => expect(formatStep(stepMs)).to.equal(text));
  });

  describe('default step', () => {
    const cases: Array<{ rangeMs: number; stepMs: number }> = [
      { rangeMs: 10 * MINUTE, stepMs: SECOND },
      { rangeMs: 1_000 * SECOND, stepMs: SECOND },
      { rangeMs: 1_001 * SECOND, stepMs: 5 * SECOND },
      { rangeMs: HOUR, stepMs: 5 * SECOND },
      { rangeMs: 6 * HOUR, stepMs: 30 * SECOND },
      { rangeMs: DAY, stepMs: 5 * MINUTE },
      { rangeMs: 7 * DAY, stepMs: 15 * MINUTE },
      { rangeMs: 30 * DAY, stepMs: HOUR },
      { rangeMs: 400 * DAY, stepMs: 12 * HOUR },
      { rangeMs: 1_000 * DAY, stepMs: DAY },
    ];
    for (const { rangeMs, stepMs } of cases) {
      it(`${rangeMs / MINUTE} min -> ${formatStep(stepMs)}, at most 1000 buckets`, () => {
        expect(defaultStepMs(rangeMs)).to.equal(stepMs);
        expect(Math.ceil(rangeMs / stepMs)).to.be.at.most(1_000);
      });
    }
  });

  describe('source choice', () => {
    const cases: Array<{ stepMs: number; rangeMs: number; source: TelemetrySource; why: string }> = [
      { stepMs: 10 * SECOND, rangeMs: 30 * DAY, source: 'telemetry', why: 'a sub-minute step needs raw samples' },
      { stepMs: 90 * SECOND, rangeMs: 30 * DAY, source: 'telemetry', why: 'a step that is not whole minutes cannot be built from minutes' },
      { stepMs: MINUTE, rangeMs: HOUR, source: 'telemetry', why: 'a short range is cheap to read raw' },
      { stepMs: HOUR, rangeMs: 6 * HOUR - MINUTE, source: 'telemetry', why: 'just under 6 hours' },
      { stepMs: MINUTE, rangeMs: 6 * HOUR, source: 'telemetry_1m', why: '6 hours and more use the rollup' },
      { stepMs: HOUR, rangeMs: 30 * DAY, source: 'telemetry_1m', why: 'a month of hours' },
      { stepMs: DAY, rangeMs: 400 * DAY, source: 'telemetry_1m', why: 'the longest range' },
    ];
    for (const testCase of cases) {
      it(`${formatStep(testCase.stepMs)} over ${testCase.rangeMs / HOUR} h -> ${testCase.source} on TimescaleDB (${testCase.why})`, () => {
        expect(chooseSource(testCase.stepMs, testCase.rangeMs, 'timescaledb')).to.equal(testCase.source);
      });
    }
    it('reads the raw table for every range on plain PostgreSQL, where the rollup is only a view of it', () => {
      expect(cases.map((testCase) => chooseSource(testCase.stepMs, testCase.rangeMs, 'postgres'))).to.deep.equal(cases.map(() => 'telemetry'));
    });
  });

  describe('bucket plan', () => {
    const cases: Array<{ from: string; to: string; stepMs: number; alignedFrom: string; alignedTo: string; count: number }> = [
      { from: '2026-01-01T00:00:00Z', to: '2026-01-01T01:00:00Z', stepMs: 15 * MINUTE, alignedFrom: '2026-01-01T00:00:00.000Z', alignedTo: '2026-01-01T01:00:00.000Z', count: 4 },
      { from: '2026-01-01T00:07:00Z', to: '2026-01-01T00:50:00Z', stepMs: 15 * MINUTE, alignedFrom: '2026-01-01T00:00:00.000Z', alignedTo: '2026-01-01T01:00:00.000Z', count: 4 },
      { from: '2026-01-01T10:00:05Z', to: '2026-01-01T10:00:06Z', stepMs: 10 * SECOND, alignedFrom: '2026-01-01T10:00:00.000Z', alignedTo: '2026-01-01T10:00:10.000Z', count: 1 },
      { from: '2026-01-01T13:00:00+07:00', to: '2026-01-03T00:00:00Z', stepMs: DAY, alignedFrom: '2026-01-01T00:00:00.000Z', alignedTo: '2026-01-03T00:00:00.000Z', count: 2 },
      { from: '1999-12-31T23:59:30Z', to: '2000-01-01T00:00:30Z', stepMs: MINUTE, alignedFrom: '1999-12-31T23:59:00.000Z', alignedTo: '2000-01-01T00:01:00.000Z', count: 2 },
    ];
    for (const testCase of cases) {
      it(`${testCase.from} .. ${testCase.to} by ${formatStep(testCase.stepMs)} widens to whole buckets`, () => {
        const plan = planBuckets(at(testCase.from), at(testCase.to), testCase.stepMs, 'timescaledb');
        expect([new Date(plan.fromMs).toISOString(), new Date(plan.toMs).toISOString(), plan.bucketCount]).to.deep.equal([testCase.alignedFrom, testCase.alignedTo, testCase.count]);
      });
    }
  });

  it('fills every bucket, with nulls and count 0 where nothing was found', () => {
    const plan = planBuckets(at('2026-01-01T00:00:00Z'), at('2026-01-01T00:03:00Z'), MINUTE, 'timescaledb');
    const buckets = fillBuckets(plan, [{ bucket_ms: Date.parse('2026-01-01T00:01:00Z'), min: 1, max: 3, avg: 2, last: 3, count: 2 }]);
    expect(buckets).to.deep.equal([
      { time: '2026-01-01T00:00:00.000Z', min: null, max: null, avg: null, last: null, count: 0 },
      { time: '2026-01-01T00:01:00.000Z', min: 1, max: 3, avg: 2, last: 3, count: 2 },
      { time: '2026-01-01T00:02:00.000Z', min: null, max: null, avg: null, last: null, count: 0 },
    ]);
    expect(bucketsToCsv(buckets)).to.equal(
      'time,min,max,avg,last,count\n2026-01-01T00:00:00.000Z,,,,,0\n2026-01-01T00:01:00.000Z,1,3,2,3,2\n2026-01-01T00:02:00.000Z,,,,,0\n',
    );
  });
});
