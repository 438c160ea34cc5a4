// Which crew gets an order: among crews with the skill that serve the order's zone (on shift
// ones first), the least cost, where cost is travel minutes from the crew's last known location
// plus the standard minutes of the work it already holds. Ties go to the lower crew id. Pure.
import type { DispatchSettings } from '../contracts/dispatch.js';
import { distanceM } from '../contracts/geometry.js';
import type { JobType } from '../contracts/incident.js';
import type { LatLon } from '../contracts/site.js';
import { canDo, type CrewCapability } from './due-time.js';

export interface CrewCandidate extends CrewCapability {
  location: LatLon;
  /** Standard minutes of the open orders the crew holds. */
  loadMinutes: number;
}

export interface CandidateCost {
  crew: string;
  on_shift: boolean;
  travel_minutes: number;
  load_minutes: number;
  cost_minutes: number;
}

export interface CrewChoice {
  crewId: string | null;
  candidates: CandidateCost[];
  explanation: string;
}

export function chooseCrew(
  order: { jobType: JobType; zone: string | null; location: LatLon | null },
  crews: readonly CrewCandidate[],
  settings: Pick<DispatchSettings, 'travel_speed_kmh'>,
): CrewChoice {
  const capable = crews.filter((crew) => canDo(crew, order.jobType, order.zone));
  if (capable.length === 0) {
    return { crewId: null, candidates: [], explanation: `no crew has the skill ${order.jobType}${order.zone === null ? '' : ` and serves ${order.zone}`}` };
  }
  const onShift = capable.filter((crew) => crew.onShift);
  const pool = onShift.length > 0 ? onShift : capable;
  const candidates = pool
    .map((crew) => {
      const travelMinutes = order.location === null ? 0 : Math.round((distanceM(crew.location, order.location) / 1000 / settings.travel_speed_kmh) * 60);
      return { crew: crew.id, on_shift: crew.onShift, travel_minutes: travelMinutes, load_minutes: crew.loadMinutes, cost_minutes: travelMinutes + crew.loadMinutes };
    })
    .sort((a, b) => a.cost_minutes - b.cost_minutes || (a.crew < b.crew ? -1 : a.crew > b.crew ? 1 : 0));
  const best = candidates[0]!;
  const shiftText = onShift.length > 0 ? '' : ' (no capable crew on shift)';
  return {
    crewId: best.crew,
    candidates,
    explanation: `${best.crew}: ${best.travel_minutes} min travel + ${best.load_minutes} min of work held = ${best.cost_minutes}, lowest of ${candidates.length}${shiftText}`,
  };
}
