// What a correlation run concluded, gathered from its events: each incident in its latest state
// (merged-away ones left out), in opening order, and every work order opened. The correlator
// itself forgets an incident once nothing can reach it any more, so offline runs that report
// every incident at the end (replay, detection scoring) keep them here.
import type { CorrelationEvent, Incident, WorkOrderOpening } from '../../contracts/incident.js';

export class CorrelationResults {
  private readonly incidentsById = new Map<string, Incident>();
  private readonly orders: WorkOrderOpening[] = [];

  take(event: CorrelationEvent): void {
    switch (event.type) {
      case 'incident_opened':
      case 'incident_updated':
      case 'incident_closed':
        this.incidentsById.set(event.incident.id, event.incident);
        return;
      case 'incidents_merged':
        this.incidentsById.delete(event.from);
        return;
      case 'work_order_opened':
        this.orders.push(event.workOrder);
        return;
      case 'complaint_assigned':
        return;
    }
  }

  incidents(): Incident[] {
    return [...this.incidentsById.values()];
  }

  workOrders(): WorkOrderOpening[] {
    return [...this.orders];
  }
}
