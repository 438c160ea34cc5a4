// What a scenario run found: one verdict per expectation with what was expected and what the
// system produced, in words and as the ids and simulated times the verdict rests on. The
// terminal, JUnit and JSON reports all render these.
import type { ExpectationKind } from '../contracts/scenario-expectations.js';

/** An object of the system's a verdict rests on, as the API showed it. */
export interface Evidence {
  type: 'incident' | 'work_order' | 'complaint' | 'anomaly';
  id: string;
  /** The system's own timestamp of it (opened, created, reported, started), ISO 8601 in simulated time. */
  at: string;
  /** The same, as simulated seconds from the scenario's start. */
  atS: number;
  /** What about it mattered: zone, priority, crew, tag. */
  detail: string;
}

export interface ExpectationResult {
  name: string;
  kind: ExpectationKind;
  passed: boolean;
  /** What the scenario file asked for, with its window in simulated time. */
  expected: string;
  /** What the system produced, with ids and simulated times. */
  actual: string;
  /** The window in simulated seconds from the scenario's start, and the event it counts from. */
  window: { fromS: number; toS: number; after: string | null };
  evidence: Evidence[];
}

export type ScenarioRunStatus = 'passed' | 'failed' | 'error';

export interface ScenarioRunResult {
  file: string;
  scenario: string;
  status: ScenarioRunStatus;
  seed: number;
  /** Simulated seconds per wall second. */
  speed: number;
  /** Simulated time 0 of the run, ISO 8601. */
  simulatedStart: string | null;
  /** Simulated seconds played. */
  simulatedS: number;
  wallMs: number;
  expectations: ExpectationResult[];
  /** Why the run could not finish (status error). */
  error?: string;
}

export function runStatus(expectations: readonly ExpectationResult[]): ScenarioRunStatus {
  return expectations.every((expectation) => expectation.passed) ? 'passed' : 'failed';
}
