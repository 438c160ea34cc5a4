// The due time of a work order from a workload analysis: the job's standard duration, plus the
// time the crews able to do it need for the work already queued ahead of it (orders of the same
// or higher priority they could take), shared among those crews. Pure: the store gathers the queue.
import type { DispatchSettings } from '../contracts/dispatch.js';
import { priorities, type JobType, type Priority } from '../contracts/incident.js';

export interface CrewCapability {
  id: string;
  skills: readonly JobType[];
  /** Empty: serves every zone. */
  zones: readonly string[];
  onShift: boolean;
}

export interface QueuedOrder {
  id: string;
  jobType: JobType;
  priority: Priority;
  zone: string | null;
}

export interface DueTimeBasis {
  standard_minutes: number;
  queue_orders: number;
  queue_minutes: number;
  capable_crews: number;
  crews_on_shift: number;
  /** Crews the queue is shared among: those on shift, else every capable crew, else one. */
  crews_counted: number;
  wait_minutes: number;
  explanation: string;
}

export function canDo(crew: CrewCapability, jobType: JobType, zone: string | null): boolean {
  return crew.skills.includes(jobType) && (zone === null || crew.zones.length === 0 || crew.zones.includes(zone));
}

const rank = (priority: Priority) => priorities.indexOf(priority);

export function computeDueTime(
  order: { jobType: JobType; priority: Priority; zone: string | null; createdAtMs: number },
  queue: readonly QueuedOrder[],
  crews: readonly CrewCapability[],
  settings: Pick<DispatchSettings, 'standard_minutes'>,
): { dueAtMs: number; basis: DueTimeBasis } {
  const standardMinutes = settings.standard_minutes[order.jobType];
  const capable = crews.filter((crew) => canDo(crew, order.jobType, order.zone));
  const onShiftCount = capable.filter((crew) => crew.onShift).length;
  const crewsCounted = onShiftCount > 0 ? onShiftCount : Math.max(1, capable.length);
  // With no capable crew, the queue ahead is the same kind of job, waiting for whoever takes it.
  const competes = (queued: QueuedOrder) => (capable.length === 0 ? queued.jobType === order.jobType : capable.some((crew) => canDo(crew, queued.jobType, queued.zone)));
  const ahead = queue.filter((queued) => rank(queued.priority) <= rank(order.priority) && competes(queued));
  const queueMinutes = ahead.reduce((sum, queued) => sum + settings.standard_minutes[queued.jobType], 0);
  const waitMinutes = Math.round(queueMinutes / crewsCounted);
  const dueAtMs = order.createdAtMs + (standardMinutes + waitMinutes) * 60_000;
  const crewText =
    capable.length === 0
      ? `no crew can do ${order.jobType}${order.zone === null ? '' : ` in ${order.zone}`}: counted as one crew`
      : onShiftCount > 0
        ? `${onShiftCount} of ${capable.length} capable crews on shift`
        : `none of ${capable.length} capable crews on shift: counted all`;
  const explanation =
    `${standardMinutes} min standard for ${order.jobType} + ${queueMinutes} min of ${ahead.length} orders of ${order.priority} or higher queued ` +
    `÷ ${crewsCounted} crews = ${standardMinutes + waitMinutes} min (${crewText})`;
  return {
    dueAtMs,
    basis: {
      standard_minutes: standardMinutes,
      queue_orders: ahead.length,
      queue_minutes: queueMinutes,
      capable_crews: capable.length,
      crews_on_shift: onShiftCount,
      crews_counted: crewsCounted,
      wait_minutes: waitMinutes,
      explanation,
    },
  };
}
