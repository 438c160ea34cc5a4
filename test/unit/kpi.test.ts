// Crew and officer KPI arithmetic against hand-computed cases: on time at the due instant, late,
// cancelled, reassigned, reopened, officers credited by completed_by, backlog at the period's end,
// local day, week and month periods (Asia/Jakarta, a DST change in Europe/Berlin), the period cap,
// and the JSON and CSV writers.
import { expect } from 'chai';
import type { WorkOrderStatus } from '../../src/contracts/dispatch.js';
import {
  computeKpi,
  kpiToCsv,
  kpiToJson,
  planPeriods,
  type KpiBucket,
  type KpiCrew,
  type KpiFigures,
  type KpiOrder,
  type KpiPeriod,
} from '../../src/workorders/kpi.js';

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const at = (iso: string) => Date.parse(iso);
/** Midnight of 2026-03-02 in UTC: every case below counts hours from it. */
const T0 = at('2026-03-02T00:00:00Z');
// Rounded to whole milliseconds, so that fractions of an hour such as 10/60 land on exact minutes.
const hour = (hours: number) => T0 + Math.round(hours * HOUR_MS);
const DAY_PERIOD: KpiPeriod = { startMs: T0, endMs: T0 + DAY_MS };

const crews: KpiCrew[] = [
  // Listed out of order: the report sorts crews and officers by id.
  { id: 'crew-b', name: 'Regu B', officers: [{ id: 'off-b1', name: 'Citra' }] },
  { id: 'crew-a', name: 'Regu A', officers: [{ id: 'off-a2', name: 'Budi' }, { id: 'off-a1', name: 'Asep' }] },
];

interface OrderHours {
  crew?: string | null;
  status?: WorkOrderStatus;
  /** Hours after T0. */
  created?: number;
  due?: number;
  assigned?: number;
  acknowledged?: number;
  completed?: number;
  cancelled?: number;
  by?: string[];
}

let orderCount = 0;
/** An order from hour offsets; its status follows from the latest time given unless stated. */
function order(hours: OrderHours): KpiOrder {
  const time = (value: number | undefined) => (value === undefined ? null : hour(value));
  const status: WorkOrderStatus =
    hours.status ??
    (hours.completed !== undefined ? 'completed' : hours.cancelled !== undefined ? 'cancelled' : hours.acknowledged !== undefined ? 'acknowledged' : hours.assigned !== undefined ? 'assigned' : 'new');
  orderCount += 1;
  return {
    id: `wo-${orderCount}`,
    status,
    crewId: hours.crew === undefined ? 'crew-a' : hours.crew,
    createdAtMs: hour(hours.created ?? 0),
    dueAtMs: hour(hours.due ?? 8),
    assignedAtMs: time(hours.assigned ?? hours.created ?? 0),
    acknowledgedAtMs: time(hours.acknowledged),
    completedAtMs: time(hours.completed),
    cancelledAtMs: time(hours.cancelled),
    completedBy: hours.by ?? [],
  };
}

const none: KpiFigures = { orders: 0, onTime: 0, onTimeRate: null, meanMinutesToAcknowledge: null, meanMinutesToComplete: null, openBacklog: 0 };
const figures = (overrides: Partial<KpiFigures>): KpiFigures => ({ ...none, ...overrides });

function figuresOf(row: KpiFigures): KpiFigures {
  const { orders, onTime, onTimeRate, meanMinutesToAcknowledge, meanMinutesToComplete, openBacklog } = row;
  return { orders, onTime, onTimeRate, meanMinutesToAcknowledge, meanMinutesToComplete, openBacklog };
}

describe('work-order KPI', () => {
  describe('figures of one day', () => {
    const cases: Array<{ name: string; orders: KpiOrder[]; crews: Record<string, KpiFigures>; officers: Record<string, KpiFigures> }> = [
      {
        name: 'completed exactly at the due time is on time',
        orders: [order({ created: 0, due: 4, assigned: 0, acknowledged: 0.5, completed: 4, by: ['off-a1'] })],
        crews: { 'crew-a': figures({ orders: 1, onTime: 1, onTimeRate: 1, meanMinutesToAcknowledge: 30, meanMinutesToComplete: 240 }), 'crew-b': none },
        officers: { 'off-a1': figures({ orders: 1, onTime: 1, onTimeRate: 1, meanMinutesToAcknowledge: 30, meanMinutesToComplete: 240 }), 'off-a2': none, 'off-b1': none },
      },
      {
        name: 'completed a minute after the due time is late',
        orders: [order({ created: 0, due: 4, assigned: 0, acknowledged: 0.5, completed: 4 + 1 / 60, by: ['off-a1', 'off-a2'] })],
        crews: { 'crew-a': figures({ orders: 1, onTime: 0, onTimeRate: 0, meanMinutesToAcknowledge: 30, meanMinutesToComplete: 241 }), 'crew-b': none },
        officers: {
          'off-a1': figures({ orders: 1, onTime: 0, onTimeRate: 0, meanMinutesToAcknowledge: 30, meanMinutesToComplete: 241 }),
          'off-a2': figures({ orders: 1, onTime: 0, onTimeRate: 0, meanMinutesToAcknowledge: 30, meanMinutesToComplete: 241 }),
          'off-b1': none,
        },
      },
      {
        name: 'a cancelled order is no completion and leaves the backlog, but its acknowledgement counts',
        orders: [order({ created: 0, assigned: 0, acknowledged: 1, cancelled: 2 })],
        crews: { 'crew-a': figures({ meanMinutesToAcknowledge: 60 }), 'crew-b': none },
        officers: { 'off-a1': none, 'off-a2': none, 'off-b1': none },
      },
      {
        name: 'a reassigned order counts for the crew holding it; an acknowledgement before the reassignment is left out',
        // Crew A acknowledged at 1 h; the order went to crew B at 3 h, which completed it at 5 h.
        orders: [order({ crew: 'crew-b', created: 0, due: 6, assigned: 3, acknowledged: 1, completed: 5, by: ['off-b1'] })],
        crews: { 'crew-a': none, 'crew-b': figures({ orders: 1, onTime: 1, onTimeRate: 1, meanMinutesToComplete: 300 }) },
        officers: { 'off-a1': none, 'off-a2': none, 'off-b1': figures({ orders: 1, onTime: 1, onTimeRate: 1, meanMinutesToComplete: 300 }) },
      },
      {
        name: 'a reassigned order acknowledged again measures from the new assignment',
        orders: [order({ crew: 'crew-b', created: 0, due: 6, assigned: 3, acknowledged: 3.25, completed: 5, by: ['off-b1'] })],
        crews: { 'crew-a': none, 'crew-b': figures({ orders: 1, onTime: 1, onTimeRate: 1, meanMinutesToAcknowledge: 15, meanMinutesToComplete: 300 }) },
        officers: { 'off-a1': none, 'off-a2': none, 'off-b1': figures({ orders: 1, onTime: 1, onTimeRate: 1, meanMinutesToAcknowledge: 15, meanMinutesToComplete: 300 }) },
      },
      {
        name: 'officers are credited only when completed_by names them',
        orders: [order({ created: 0, due: 4, acknowledged: 0.25, completed: 2, by: ['off-a2'] }), order({ created: 1, due: 4, acknowledged: 1.5, completed: 3, by: [] })],
        crews: { 'crew-a': figures({ orders: 2, onTime: 2, onTimeRate: 1, meanMinutesToAcknowledge: 22.5, meanMinutesToComplete: 120 }), 'crew-b': none },
        officers: { 'off-a1': none, 'off-a2': figures({ orders: 1, onTime: 1, onTimeRate: 1, meanMinutesToAcknowledge: 15, meanMinutesToComplete: 120 }), 'off-b1': none },
      },
      {
        name: 'means and rates over several orders, rounded',
        // To acknowledge: 10, 20 and 25 min; to complete: 100, 201 and 150 min; one of three late.
        orders: [
          order({ created: 0, due: 2, acknowledged: 10 / 60, completed: 100 / 60, by: ['off-a1'] }),
          order({ created: 0, due: 3, acknowledged: 20 / 60, completed: 201 / 60, by: ['off-a1'] }),
          order({ created: 1, due: 4, acknowledged: 1 + 25 / 60, completed: 1 + 150 / 60, by: ['off-a1'] }),
        ],
        crews: { 'crew-a': figures({ orders: 3, onTime: 2, onTimeRate: 0.6667, meanMinutesToAcknowledge: 18.33, meanMinutesToComplete: 150.33 }), 'crew-b': none },
        officers: { 'off-a1': figures({ orders: 3, onTime: 2, onTimeRate: 0.6667, meanMinutesToAcknowledge: 18.33, meanMinutesToComplete: 150.33 }), 'off-a2': none, 'off-b1': none },
      },
      {
        name: 'the backlog at the end of the period',
        orders: [
          order({ created: -30, assigned: -30, acknowledged: -29 }), // held since yesterday: in
          order({ created: 23, assigned: 23 }), // assigned before the end: in
          order({ created: 23, assigned: 24 }), // assigned at the end: out
          order({ created: 1, assigned: 1, acknowledged: 2, completed: 24, due: 30 }), // completed at the end, not before it: in
          order({ created: 1, assigned: 1, cancelled: 23.99 }), // cancelled before the end: out
          order({ crew: null, created: 1, status: 'new' }), // no crew: nobody's
          order({ crew: 'crew-b', created: -48, assigned: -47, completed: -1, by: ['off-b1'] }), // completed yesterday: out
          order({ crew: 'crew-b', created: 5, assigned: 6, status: 'in_progress' }), // in
        ],
        crews: { 'crew-a': figures({ openBacklog: 3, meanMinutesToAcknowledge: 60 }), 'crew-b': figures({ openBacklog: 1 }) },
        officers: { 'off-a1': figures({ openBacklog: 3 }), 'off-a2': figures({ openBacklog: 3 }), 'off-b1': figures({ openBacklog: 1 }) },
      },
      {
        name: 'a reopened order: its earlier completion no longer counts and it is back in the backlog',
        orders: [order({ created: 0, assigned: 4, acknowledged: 1, completed: 3, status: 'assigned', by: ['off-a1'] })],
        crews: { 'crew-a': figures({ openBacklog: 1 }), 'crew-b': none },
        officers: { 'off-a1': figures({ openBacklog: 1 }), 'off-a2': figures({ openBacklog: 1 }), 'off-b1': none },
      },
      {
        name: 'no orders: every crew and officer appears with zero counts and null rates and means',
        orders: [order({ created: -5, assigned: -5, acknowledged: -4, completed: -1, by: ['off-a1'] })],
        crews: { 'crew-a': none, 'crew-b': none },
        officers: { 'off-a1': none, 'off-a2': none, 'off-b1': none },
      },
    ];

    for (const testCase of cases) {
      it(testCase.name, () => {
        const report = computeKpi(testCase.orders, crews, [DAY_PERIOD]);
        expect(report.crews.map((row) => [row.subjectId, row.crewId])).to.deep.equal([['crew-a', 'crew-a'], ['crew-b', 'crew-b']]);
        expect(report.officers.map((row) => [row.subjectId, row.crewId])).to.deep.equal([['off-a1', 'crew-a'], ['off-a2', 'crew-a'], ['off-b1', 'crew-b']]);
        expect(Object.fromEntries(report.crews.map((row) => [row.subjectId, figuresOf(row)]))).to.deep.equal(testCase.crews);
        expect(Object.fromEntries(report.officers.map((row) => [row.subjectId, figuresOf(row)]))).to.deep.equal(testCase.officers);
      });
    }
  });

  describe('periods', () => {
    const cases: Array<{ name: string; from: string; to: string; bucket: KpiBucket | null; timeZone: string; periods: Array<[string, string]> }> = [
      {
        name: 'no bucket: the window is one period',
        from: '2026-03-01T00:00:00+07:00',
        to: '2026-03-31T00:00:00+07:00',
        bucket: null,
        timeZone: 'Asia/Jakarta',
        periods: [['2026-02-28T17:00:00.000Z', '2026-03-30T17:00:00.000Z']],
      },
      {
        name: 'days in Asia/Jakarta, the first and last cut to the window',
        from: '2026-01-30T12:00:00+07:00',
        to: '2026-02-02T06:00:00+07:00',
        bucket: 'day',
        timeZone: 'Asia/Jakarta',
        periods: [
          ['2026-01-30T05:00:00.000Z', '2026-01-30T17:00:00.000Z'],
          ['2026-01-30T17:00:00.000Z', '2026-01-31T17:00:00.000Z'],
          ['2026-01-31T17:00:00.000Z', '2026-02-01T17:00:00.000Z'],
          ['2026-02-01T17:00:00.000Z', '2026-02-01T23:00:00.000Z'],
        ],
      },
      {
        name: 'months in Asia/Jakarta split at local midnight of the 1st, 17:00 UTC the day before',
        from: '2026-01-20T00:00:00+07:00',
        to: '2026-03-01T00:00:00+07:00',
        bucket: 'month',
        timeZone: 'Asia/Jakarta',
        periods: [
          ['2026-01-19T17:00:00.000Z', '2026-01-31T17:00:00.000Z'],
          ['2026-01-31T17:00:00.000Z', '2026-02-28T17:00:00.000Z'],
        ],
      },
      {
        name: 'weeks start on Monday (2026-03-02)',
        from: '2026-02-27T00:00:00+07:00',
        to: '2026-03-12T00:00:00+07:00',
        bucket: 'week',
        timeZone: 'Asia/Jakarta',
        periods: [
          ['2026-02-26T17:00:00.000Z', '2026-03-01T17:00:00.000Z'],
          ['2026-03-01T17:00:00.000Z', '2026-03-08T17:00:00.000Z'],
          ['2026-03-08T17:00:00.000Z', '2026-03-11T17:00:00.000Z'],
        ],
      },
      {
        name: 'months across a year end in UTC',
        from: '2025-12-15T00:00:00Z',
        to: '2026-01-15T00:00:00Z',
        bucket: 'month',
        timeZone: 'UTC',
        periods: [
          ['2025-12-15T00:00:00.000Z', '2026-01-01T00:00:00.000Z'],
          ['2026-01-01T00:00:00.000Z', '2026-01-15T00:00:00.000Z'],
        ],
      },
      {
        name: 'days across a daylight-saving change: the 29th of March has 23 hours in Europe/Berlin',
        from: '2026-03-28T00:00:00+01:00',
        to: '2026-03-31T00:00:00+02:00',
        bucket: 'day',
        timeZone: 'Europe/Berlin',
        periods: [
          ['2026-03-27T23:00:00.000Z', '2026-03-28T23:00:00.000Z'],
          ['2026-03-28T23:00:00.000Z', '2026-03-29T22:00:00.000Z'],
          ['2026-03-29T22:00:00.000Z', '2026-03-30T22:00:00.000Z'],
        ],
      },
    ];
    for (const testCase of cases) {
      it(testCase.name, () => {
        const plan = planPeriods(at(testCase.from), at(testCase.to), testCase.bucket, testCase.timeZone, 1_000);
        expect(plan.ok).to.equal(true);
        const periods = plan.ok ? plan.periods : [];
        expect(periods.map((period) => [new Date(period.startMs).toISOString(), new Date(period.endMs).toISOString()])).to.deep.equal(testCase.periods);
      });
    }

    it('refuses more periods than the cap, and allows exactly the cap', () => {
      const from = at('2026-01-01T00:00:00Z');
      const exactly = planPeriods(from, from + 1_000 * DAY_MS, 'day', 'UTC', 1_000);
      expect(exactly.ok && exactly.periods.length).to.equal(1_000);
      const over = planPeriods(from, from + 1_001 * DAY_MS, 'day', 'UTC', 1_000);
      expect(over.ok === false && over.message).to.contain('more than 1000 periods');
    });

    it('refuses a window that ends before it starts', () => {
      const plan = planPeriods(T0, T0, null, 'UTC', 1_000);
      expect(plan.ok === false && plan.message).to.contain('to must be after from');
    });
  });

  describe('monthly periods in Asia/Jakarta', () => {
    // Local midnight of 1 February is 2026-01-31T17:00Z.
    const plan = planPeriods(at('2026-01-01T00:00:00+07:00'), at('2026-03-01T00:00:00+07:00'), 'month', 'Asia/Jakarta', 1_000);
    const periods = plan.ok ? plan.periods : [];
    const jakarta = (iso: string) => (at(iso) - T0) / HOUR_MS;
    const orders = [
      // 31 January 23:59 local: January. Acknowledged 30 min after assignment, completed on time.
      order({ created: jakarta('2026-01-31T20:00:00Z') - 24, assigned: jakarta('2026-01-31T16:00:00Z'), acknowledged: jakarta('2026-01-31T16:30:00Z'), due: jakarta('2026-02-01T00:00:00Z'), completed: jakarta('2026-01-31T16:59:00Z'), by: ['off-a1'] }),
      // 1 February 00:30 local: February, and late.
      order({ created: jakarta('2026-01-31T16:00:00Z'), assigned: jakarta('2026-01-31T16:00:00Z'), acknowledged: jakarta('2026-01-31T17:10:00Z'), due: jakarta('2026-01-31T17:00:00Z'), completed: jakarta('2026-01-31T17:30:00Z'), by: ['off-a1'] }),
    ];
    const report = computeKpi(orders, crews, periods);

    it('has one row per crew per month and one per officer per month', () => {
      expect(periods).to.have.length(2);
      expect(report.crews.map((row) => [row.subjectId, new Date(row.periodStartMs).toISOString()])).to.deep.equal([
        ['crew-a', '2025-12-31T17:00:00.000Z'],
        ['crew-b', '2025-12-31T17:00:00.000Z'],
        ['crew-a', '2026-01-31T17:00:00.000Z'],
        ['crew-b', '2026-01-31T17:00:00.000Z'],
      ]);
      expect(report.officers).to.have.length(6);
    });

    it('counts each completion in the local month it falls in', () => {
      const [january, , february] = report.crews;
      // January: created 31 Jan 20:00Z minus 24 h, completed 16:59Z: 20 h 59 min = 1259 min.
      // The February order, assigned at 16:00Z and open at 17:00Z, is January's backlog.
      expect(figuresOf(january!)).to.deep.equal(figures({ orders: 1, onTime: 1, onTimeRate: 1, meanMinutesToAcknowledge: 30, meanMinutesToComplete: 1259, openBacklog: 1 }));
      // February: 1 h 30 min to complete; acknowledged 70 min after assignment, in February.
      expect(figuresOf(february!)).to.deep.equal(figures({ orders: 1, onTime: 0, onTimeRate: 0, meanMinutesToAcknowledge: 70, meanMinutesToComplete: 90 }));
      const officerFebruary = report.officers.find((row) => row.subjectId === 'off-a1' && row.periodStartMs === at('2026-01-31T17:00:00Z'));
      expect(figuresOf(officerFebruary!)).to.deep.equal(figures({ orders: 1, onTime: 0, onTimeRate: 0, meanMinutesToAcknowledge: 70, meanMinutesToComplete: 90 }));
    });
  });

  describe('writers', () => {
    const quoted: KpiCrew[] = [{ id: 'crew-q', name: 'Regu "Q", malam', officers: [{ id: 'off-q1', name: 'Dewi' }] }];
    const report = computeKpi([order({ crew: 'crew-q', created: 0, due: 2, acknowledged: 0.5, completed: 1.5, by: ['off-q1'] })], quoted, [
      DAY_PERIOD,
      { startMs: T0 + DAY_MS, endMs: T0 + DAY_MS + 12 * HOUR_MS },
    ]);

    it('writes CSV with RFC 4180 quoting and an empty field for null', () => {
      expect(kpiToCsv(report)).to.equal(
        [
          'subject_type,subject_id,name,crew_id,period_start,period_end,orders,on_time,on_time_rate,mean_minutes_to_acknowledge,mean_minutes_to_complete,open_backlog',
          'crew,crew-q,"Regu ""Q"", malam",crew-q,2026-03-02T00:00:00.000Z,2026-03-03T00:00:00.000Z,1,1,1,30,90,0',
          'crew,crew-q,"Regu ""Q"", malam",crew-q,2026-03-03T00:00:00.000Z,2026-03-03T12:00:00.000Z,0,0,,,,0',
          'officer,off-q1,Dewi,crew-q,2026-03-02T00:00:00.000Z,2026-03-03T00:00:00.000Z,1,1,1,30,90,0',
          'officer,off-q1,Dewi,crew-q,2026-03-03T00:00:00.000Z,2026-03-03T12:00:00.000Z,0,0,,,,0',
          '',
        ].join('\r\n'),
      );
    });

    it('writes JSON with one entry per subject per period', () => {
      const json = kpiToJson({ fromMs: T0, toMs: T0 + DAY_MS + 12 * HOUR_MS, bucket: 'day' }, report);
      expect(json).to.deep.include({ from: '2026-03-02T00:00:00.000Z', to: '2026-03-03T12:00:00.000Z', bucket: 'day' });
      expect(json.crews[0]).to.deep.equal({
        crew_id: 'crew-q',
        name: 'Regu "Q", malam',
        period_start: '2026-03-02T00:00:00.000Z',
        period_end: '2026-03-03T00:00:00.000Z',
        orders: 1,
        on_time: 1,
        on_time_rate: 1,
        mean_minutes_to_acknowledge: 30,
        mean_minutes_to_complete: 90,
        open_backlog: 0,
      });
      expect(json.officers[1]).to.deep.equal({
        officer_id: 'off-q1',
        name: 'Dewi',
        crew_id: 'crew-q',
        period_start: '2026-03-03T00:00:00.000Z',
        period_end: '2026-03-03T12:00:00.000Z',
        orders: 0,
        on_time: 0,
        on_time_rate: null,
        mean_minutes_to_acknowledge: null,
        mean_minutes_to_complete: null,
        open_backlog: 0,
      });
    });
  });
});
