// The terminal's view of a scenario run: a line as each scenario starts, progresses and ends,
// then a summary naming every failed expectation with what was expected and what happened.
import { formatDurationS } from '../contracts/duration.js';
import { simTime } from './expectation-checks.js';
import type { ScenarioRunResult } from './results.js';
import type { ProgressEvent } from './scenario-runner.js';

export function progressLine(event: ProgressEvent): string {
  switch (event.type) {
    case 'started':
      return `▶ ${event.scenario} (${event.file}): seed ${event.seed}, ${event.speed}× speed, ${formatDurationS(event.simulatedS)} simulated`;
    case 'progress':
      return `  ${event.scenario}: ${simTime(event.atS)} of ${simTime(event.simulatedS)}, ${event.incidents} incident${event.incidents === 1 ? '' : 's'}, ${event.workOrders} work order${event.workOrders === 1 ? '' : 's'}`;
    case 'finished':
      return `${mark(event.result)} ${event.result.scenario}: ${verdictText(event.result)} (${(event.result.wallMs / 1000).toFixed(1)} s)`;
  }
}

function mark(result: ScenarioRunResult): string {
  return result.status === 'passed' ? '✔' : '✘';
}

function verdictText(result: ScenarioRunResult): string {
  if (result.status === 'error') return `error: ${result.error}`;
  const failed = result.expectations.filter((expectation) => !expectation.passed).length;
  return failed === 0 ? `passed, ${result.expectations.length} of ${result.expectations.length} expectations met` : `failed, ${failed} of ${result.expectations.length} expectations not met`;
}

export function summary(results: readonly ScenarioRunResult[]): string {
  const lines = ['', 'Scenario checks'];
  for (const result of results) {
    lines.push(`${mark(result)} ${result.scenario} (${result.file}, seed ${result.seed}, ${result.speed}×, simulated from ${result.simulatedStart ?? 'not started'}): ${verdictText(result)}`);
    for (const expectation of result.expectations) {
      lines.push(`    ${expectation.passed ? `✔ ${expectation.name} (${expectation.kind}): ${expectation.actual}` : `✘ ${expectation.name} (${expectation.kind})`}`);
      if (!expectation.passed) {
        lines.push(`        expected: ${expectation.expected}`);
        lines.push(`        actual:   ${expectation.actual}`);
      }
    }
  }
  const passed = results.filter((result) => result.status === 'passed').length;
  const failed = results.filter((result) => result.status === 'failed').length;
  const errors = results.filter((result) => result.status === 'error').length;
  lines.push('', `${results.length} scenario${results.length === 1 ? '' : 's'}: ${passed} passed, ${failed} failed${errors > 0 ? `, ${errors} could not run` : ''}`);
  return lines.join('\n');
}
