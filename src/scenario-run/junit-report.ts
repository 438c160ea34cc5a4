// JUnit XML of a scenario run, the format CI systems display: a test suite per scenario file, a
// test case per expectation; a failed expectation's message holds what was expected and what
// happened, a run that could not finish is an error.
import { simTime } from './expectation-checks.js';
import type { ScenarioRunResult } from './results.js';

const escapeXml = (text: string) =>
  text.replace(/[&<>"']/g, (character) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[character]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

export function junitReport(results: readonly ScenarioRunResult[]): string {
  const failures = (result: ScenarioRunResult) => result.expectations.filter((expectation) => !expectation.passed).length;
  const seconds = (ms: number) => (ms / 1000).toFixed(3);
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="tirta scenario run" tests="${results.reduce((sum, result) => sum + Math.max(1, result.expectations.length), 0)}" failures="${results.reduce((sum, result) => sum + failures(result), 0)}" errors="${results.filter((result) => result.status === 'error').length}" time="${seconds(results.reduce((sum, result) => sum + result.wallMs, 0))}">`,
  ];
  for (const result of results) {
    const suite = escapeXml(result.scenario);
    lines.push(
      `  <testsuite name="${suite}" file="${escapeXml(result.file)}" tests="${Math.max(1, result.expectations.length)}" failures="${failures(result)}" errors="${result.status === 'error' ? 1 : 0}" time="${seconds(result.wallMs)}">`,
      '    <properties>',
      `      <property name="seed" value="${result.seed}"/>`,
      `      <property name="speed" value="${result.speed}"/>`,
      `      <property name="simulated_start" value="${escapeXml(result.simulatedStart ?? '')}"/>`,
      `      <property name="simulated_seconds" value="${result.simulatedS}"/>`,
      '    </properties>',
    );
    if (result.status === 'error') {
      lines.push(`    <testcase classname="${suite}" name="run" file="${escapeXml(result.file)}" time="${seconds(result.wallMs)}">`, `      <error message="${escapeXml(result.error ?? 'failed')}">${escapeXml(result.error ?? '')}</error>`, '    </testcase>');
    }
    for (const expectation of result.expectations) {
      const name = escapeXml(`${expectation.name} (${expectation.kind})`);
      if (expectation.passed) {
        lines.push(`    <testcase classname="${suite}" name="${name}" file="${escapeXml(result.file)}" time="0">`, `      <system-out>${escapeXml(`${expectation.actual}`)}</system-out>`, '    </testcase>');
        continue;
      }
      const evidence = expectation.evidence.map((item) => `${item.type} ${item.id} at ${item.at} (${simTime(item.atS)}): ${item.detail}`).join('\n');
      const body = `expected: ${expectation.expected}\nactual: ${expectation.actual}${evidence === '' ? '' : `\nevidence:\n${evidence}`}`;
      lines.push(
        `    <testcase classname="${suite}" name="${name}" file="${escapeXml(result.file)}" time="0">`,
        `      <failure message="${escapeXml(`expected ${expectation.expected}; actual ${expectation.actual}`)}" type="${expectation.kind}">${escapeXml(body)}</failure>`,
        '    </testcase>',
      );
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>', '');
  return lines.join('\n');
}
