// The pure core of dispatch, by tables: the lifecycle, shifts in the site's time zone, due times
// from the workload, and the choice of crew.
import { expect } from 'chai';
import { dispatchSettingsSchema, workOrderActions, workOrderStatuses, type WorkOrderAction, type WorkOrderStatus } from '../../src/contracts/dispatch.js';
import { chooseCrew, type CrewCandidate } from '../../src/workorders/assignment.js';
import { computeDueTime, type CrewCapability, type QueuedOrder } from '../../src/workorders/due-time.js';
import { allowedActions, nextStatus } from '../../src/workorders/lifecycle.js';
import { onShift } from '../../src/workorders/shifts.js';

const settings = dispatchSettingsSchema.parse({});

describe('work-order lifecycle', () => {
  const expected: Record<WorkOrderStatus, Partial<Record<WorkOrderAction, WorkOrderStatus>>> = {
    new: { assign: 'assigned', cancel: 'cancelled' },
    assigned: { assign: 'assigned', acknowledge: 'acknowledged', cancel: 'cancelled' },
    acknowledged: { assign: 'assigned', start: 'in_progress', cancel: 'cancelled' },
    in_progress: { complete: 'completed', cancel: 'cancelled' },
    completed: { reopen: 'new' },
    cancelled: { reopen: 'new' },
  };
  for (const status of workOrderStatuses) {
    for (const action of workOrderActions) {
      const to = expected[status][action];
      it(`${action} from ${status}: ${to ?? 'not allowed'}`, () => {
        expect(nextStatus(status, action)).to.equal(to);
      });
    }
    it(`allowed from ${status}: ${Object.keys(expected[status]).join(', ')}`, () => {
      expect(allowedActions(status)).to.have.members(Object.keys(expected[status]));
    });
  }
});

describe('crew shifts', () => {
  const day = [{ days: ['mon' as const, 'tue' as const], start: '07:00', end: '19:00' }];
  const night = [{ days: ['mon' as const], start: '19:00', end: '07:00' }];
  // 2026-11-30 is a Monday. Asia/Jakarta is UTC+7.
  const cases: Array<[string, typeof day, string, boolean]> = [
    ['Monday 07:00 local starts the day shift', day, '2026-11-30T00:00:00Z', true],
    ['Monday 06:59 local is before it', day, '2026-11-29T23:59:00Z', false],
    ['Monday 19:00 local has ended it', day, '2026-11-30T12:00:00Z', false],
    ['Wednesday noon is not a shift day', day, '2026-12-02T05:00:00Z', false],
    ['Monday 23:00 local is in the night shift', night, '2026-11-30T16:00:00Z', true],
    ['Tuesday 06:30 local is its morning part', night, '2026-11-30T23:30:00Z', true],
    ['Tuesday 07:00 local has ended it', night, '2026-12-01T00:00:00Z', false],
    ['Monday 06:30 local belongs to a Sunday night shift, not listed', night, '2026-11-29T23:30:00Z', false],
  ];
  for (const [name, shifts, at, expected] of cases) {
    it(name, () => expect(onShift(shifts, Date.parse(at), 'Asia/Jakarta')).to.equal(expected));
  }
  it('no shifts means always on call', () => expect(onShift([], Date.parse('2026-12-02T05:00:00Z'), 'Asia/Jakarta')).to.equal(true));
});

describe('due time from workload', () => {
  const T0 = Date.parse('2026-11-30T03:00:00Z');
  const repair: CrewCapability = { id: 'a', skills: ['burst_repair', 'leak_repair'], zones: ['dma-1'], onShift: true };
  const repair2: CrewCapability = { id: 'b', skills: ['burst_repair'], zones: [], onShift: true };
  const offShift: CrewCapability = { id: 'c', skills: ['burst_repair'], zones: [], onShift: false };
  const lab: CrewCapability = { id: 'lab', skills: ['meter'], zones: [], onShift: true };
  const queued = (id: string, jobType: QueuedOrder['jobType'], priority: QueuedOrder['priority'], zone: string | null = 'dma-1'): QueuedOrder => ({ id, jobType, priority, zone });

  const cases: Array<{ name: string; queue: QueuedOrder[]; crews: CrewCapability[]; minutes: number; counted: number }> = [
    { name: 'empty queue: the standard 240 min', queue: [], crews: [repair, repair2], minutes: 240, counted: 2 },
    // Ahead: P1 burst 240 + P2 leak 480 = 720, shared by 2 crews on shift = 360; the P3 leak and the meter job are not ahead.
    { name: 'queue of equal or higher priority shared among crews', queue: [queued('1', 'burst_repair', 'P1'), queued('2', 'leak_repair', 'P2'), queued('3', 'leak_repair', 'P3'), queued('4', 'meter', 'P1')], crews: [repair, repair2, lab], minutes: 240 + 360, counted: 2 },
    // Crew c is off shift: only a and b count. The leak in dma-3 is ahead only for b, which cannot do leaks: not counted.
    { name: 'off-shift crews do not share the queue', queue: [queued('1', 'burst_repair', 'P1'), queued('2', 'leak_repair', 'P1', 'dma-3')], crews: [repair, repair2, offShift], minutes: 240 + 120, counted: 2 },
    { name: 'none on shift: every capable crew counts', queue: [queued('1', 'burst_repair', 'P1')], crews: [offShift, { ...offShift, id: 'd' }], minutes: 240 + 120, counted: 2 },
    { name: 'no capable crew: counted as one', queue: [queued('1', 'burst_repair', 'P1')], crews: [lab], minutes: 240 + 240, counted: 1 },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const due = computeDueTime({ jobType: 'burst_repair', priority: 'P2', zone: 'dma-1', createdAtMs: T0 }, testCase.queue, testCase.crews, settings);
      expect((due.dueAtMs - T0) / 60_000).to.equal(testCase.minutes);
      expect(due.basis.crews_counted).to.equal(testCase.counted);
      expect(due.basis.standard_minutes + due.basis.wait_minutes).to.equal(testCase.minutes);
      expect(due.basis.explanation).to.contain('240 min standard for burst_repair');
    });
  }
});

describe('crew choice', () => {
  const order = { jobType: 'burst_repair' as const, zone: 'dma-1', location: { lat: -6.9, lon: 107.61 } };
  // 0.01 degree of longitude at 6.9° S is 1,105 m: 3 min at 25 km/h (rounded).
  const crew = (id: string, lon: number, loadMinutes: number, extra: Partial<CrewCandidate> = {}): CrewCandidate => ({
    id, skills: ['burst_repair'], zones: [], onShift: true, location: { lat: -6.9, lon }, loadMinutes, ...extra,
  });

  it('takes the nearest crew when loads are equal', () => {
    const choice = chooseCrew(order, [crew('far', 107.65, 0), crew('near', 107.62, 0)], settings);
    expect(choice.crewId).to.equal('near');
    expect(choice.candidates.map((candidate) => [candidate.crew, candidate.travel_minutes])).to.deep.equal([['near', 3], ['far', 11]]);
  });
  it('weighs held work against distance', () => {
    const choice = chooseCrew(order, [crew('near-busy', 107.61, 240), crew('far-free', 107.65, 0)], settings);
    expect(choice.crewId).to.equal('far-free');
    expect(choice.explanation).to.contain('far-free: 11 min travel + 0 min of work held = 11');
  });
  it('prefers crews on shift, and uses off-shift ones only when none is', () => {
    expect(chooseCrew(order, [crew('off', 107.61, 0, { onShift: false }), crew('on', 107.65, 300)], settings).crewId).to.equal('on');
    expect(chooseCrew(order, [crew('off', 107.61, 0, { onShift: false })], settings).crewId).to.equal('off');
  });
  it('skips crews without the skill or the zone', () => {
    const choice = chooseCrew(order, [crew('meter', 107.61, 0, { skills: ['meter'] }), crew('east', 107.61, 0, { zones: ['dma-3'] })], settings);
    expect(choice.crewId).to.equal(null);
    expect(choice.explanation).to.equal('no crew has the skill burst_repair and serves dma-1');
  });
  it('breaks ties by crew id', () => {
    expect(chooseCrew(order, [crew('b', 107.62, 0), crew('a', 107.62, 0)], settings).crewId).to.equal('a');
  });
});
