// The JSON report of a scenario run: every result as the runner holds it, for CI annotations or
// tools of a utility's own.
import type { ScenarioRunResult } from './results.js';

export function jsonReport(results: readonly ScenarioRunResult[]): string {
  const count = (status: ScenarioRunResult['status']) => results.filter((result) => result.status === status).length;
  return `${JSON.stringify({ passed: count('passed') === results.length, counts: { scenarios: results.length, passed: count('passed'), failed: count('failed'), errors: count('error') }, scenarios: results }, null, 2)}\n`;
}
