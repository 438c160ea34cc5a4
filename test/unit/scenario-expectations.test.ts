// The expect: list of a scenario file: every kind parses with its defaults, and every mistake is
// refused naming the field.
import { expect } from 'chai';
import { parseScenario } from '../../src/contracts/scenario.js';
import { ConfigError } from '../../src/errors.js';

const EVENTS = `events:
  - { id: braga-burst, kind: burst, at: 2m, duration: 1h, junction: J-D2-020, coefficient: 150 }
  - { id: merdeka-stuck, kind: sensor_fault, at: 5m, tag: dma-1.pressure.1, fault: stuck }
  - { kind: pump_trip, at: 30m, pump: PU-1 }
`;

function issuePaths(yaml: string): string[] {
  try {
    parseScenario(yaml, 'case.yaml');
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => issue.path);
    throw error;
  }
  return [];
}

describe('scenario expectations', () => {
  it('parses every kind, with names, windows in seconds and the event they count from', () => {
    const scenario = parseScenario(
      `id: checks
${EVENTS}expect:
  - { name: p1, kind: incident, after: braga-burst, within: 15m, zone: dma-2, priority: P1 }
  - { kind: work_order, after: braga-burst, within: 1h, crew_skill: burst_repair, job_type: burst_repair }
  - { kind: no_work_order, caused_by: merdeka-stuck, within: 30m }
  - { kind: complaints_linked, within: 900, zone: dma-2, at_least: 80% }
  - { kind: complaints_linked, after: braga-burst, within: 10m, at_least: 0.5 }
`,
      'checks.yaml',
    );
    expect(scenario.expect).to.deep.equal([
      { kind: 'incident', name: 'p1', after: 'braga-burst', withinS: 900, zone: 'dma-2', priority: 'P1' },
      { kind: 'work_order', name: 'work_order-2', after: 'braga-burst', withinS: 3600, crew_skill: 'burst_repair', job_type: 'burst_repair' },
      { kind: 'no_work_order', name: 'no_work_order-3', after: 'merdeka-stuck', caused_by: 'merdeka-stuck', withinS: 1800 },
      { kind: 'complaints_linked', name: 'complaints_linked-4', after: null, withinS: 900, zone: 'dma-2', at_least: 0.8 },
      { kind: 'complaints_linked', name: 'complaints_linked-5', after: 'braga-burst', withinS: 600, at_least: 0.5 },
    ]);
  });

  it('leaves a scenario without expectations as it was, with an empty list', () => {
    expect(parseScenario(`id: plain\n${EVENTS}`, 'plain.yaml').expect).to.deep.equal([]);
  });

  const refused: Array<{ name: string; expect: string; paths: string[] }> = [
    { name: 'an unknown kind', expect: '  - { kind: alarm, within: 5m }', paths: ['expect[0].kind'] },
    { name: 'a field the kind does not have', expect: '  - { kind: incident, within: 5m, crew_skill: burst_repair }', paths: ['expect[0]'] },
    { name: 'a missing window', expect: '  - { kind: incident, zone: dma-2 }', paths: ['expect[0].within'] },
    { name: 'a window that is not a duration', expect: '  - { kind: incident, within: soon }', paths: ['expect[0].within'] },
    { name: 'a window of zero', expect: '  - { kind: incident, within: 0s }', paths: ['expect[0].within'] },
    { name: 'an unknown priority', expect: '  - { kind: incident, within: 5m, priority: P0 }', paths: ['expect[0].priority'] },
    { name: 'an unknown skill', expect: '  - { kind: work_order, within: 5m, crew_skill: plumbing }', paths: ['expect[0].crew_skill'] },
    { name: 'after naming no event', expect: '  - { kind: incident, after: flood, within: 5m }', paths: ['expect[0].after'] },
    { name: 'caused_by naming no event', expect: '  - { kind: no_work_order, caused_by: flood, within: 5m }', paths: ['expect[0].caused_by'] },
    { name: 'caused_by naming a network event', expect: '  - { kind: no_work_order, caused_by: braga-burst, within: 5m }', paths: ['expect[0].caused_by'] },
    { name: 'a share above one', expect: '  - { kind: complaints_linked, within: 5m, at_least: 1.5 }', paths: ['expect[0].at_least'] },
    { name: 'a share as words', expect: '  - { kind: complaints_linked, within: 5m, at_least: most }', paths: ['expect[0].at_least'] },
    { name: 'a repeated name', expect: '  - { name: a, kind: incident, within: 5m }\n  - { name: a, kind: incident, within: 9m }', paths: ['expect[1].name'] },
    { name: 'an empty list', expect: ' []', paths: ['expect'] },
  ];
  for (const testCase of refused) {
    it(`refuses ${testCase.name}, naming ${testCase.paths.join(', ')}`, () => {
      const yaml = `id: bad\n${EVENTS}expect:${testCase.expect.startsWith(' [') ? testCase.expect : `\n${testCase.expect}`}\n`;
      expect(issuePaths(yaml)).to.deep.equal(testCase.paths);
    });
  }

  it('says which events there are when after names none', () => {
    try {
      parseScenario(`id: bad\n${EVENTS}expect:\n  - { kind: incident, after: flood, within: 5m }\n`, 'bad.yaml');
      expect.fail('parsed');
    } catch (error) {
      expect((error as ConfigError).message).to.contain('expect[0].after: no event "flood" in events (events: "braga-burst", "merdeka-stuck", "pump_trip-3")');
    }
  });
});
