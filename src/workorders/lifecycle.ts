// The work-order lifecycle as data: which action moves an order from which state to which.
// new -> assigned -> acknowledged -> in_progress -> completed, or cancelled; a completed or
// cancelled order can be reopened. The store applies it; the API answers 409 with `allowedActions`.
import type { WorkOrderAction, WorkOrderStatus } from '../contracts/dispatch.js';

const transitions: Record<WorkOrderAction, Partial<Record<WorkOrderStatus, WorkOrderStatus>>> = {
  // Assigning again hands the order to another crew before it starts.
  assign: { new: 'assigned', assigned: 'assigned', acknowledged: 'assigned' },
  acknowledge: { assigned: 'acknowledged' },
  start: { acknowledged: 'in_progress' },
  complete: { in_progress: 'completed' },
  cancel: { new: 'cancelled', assigned: 'cancelled', acknowledged: 'cancelled', in_progress: 'cancelled' },
  // A reopened order goes back to the queue; dispatch (or auto-assignment) picks its crew again.
  reopen: { completed: 'new', cancelled: 'new' },
};

/** The state `action` leads to from `status`, or undefined when it is not allowed. */
export function nextStatus(status: WorkOrderStatus, action: WorkOrderAction): WorkOrderStatus | undefined {
  return transitions[action][status];
}

export function allowedActions(status: WorkOrderStatus): WorkOrderAction[] {
  return (Object.keys(transitions) as WorkOrderAction[]).filter((action) => transitions[action][status] !== undefined);
}

export const openStatuses: readonly WorkOrderStatus[] = ['new', 'assigned', 'acknowledged', 'in_progress'];

export function isOpen(status: WorkOrderStatus): boolean {
  return openStatuses.includes(status);
}
