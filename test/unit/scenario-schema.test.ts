import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { loadSiteConfig } from '../../src/config/site-loader.js';
import { parseDurationS } from '../../src/contracts/duration.js';
import { parseScenario, type Scenario } from '../../src/contracts/scenario.js';
import { ConfigError } from '../../src/errors.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { HydraulicModel, type NetworkElements } from '../../simulators/hydraulics/hydraulic-model.js';
import { DEMO_TOWN_NETWORK } from '../../simulators/plant/hydraulic-plant.js';
import { validateScenario } from '../../simulators/scenarios/scenario-player.js';

const SCENARIO_DIR = 'config/scenarios';

/** Each case: a scenario file and the paths its errors must name (none: it parses). */
const files: Array<{ name: string; yaml: string; errorPaths?: string[] }> = [
  {
    name: 'every event kind, times as text and numbers',
    yaml: `
id: all-kinds
description: one of each
seed: 7
events:
  - { kind: leak, at: 90s, junction: J-D1-030, coefficient: 2, growth_per_hour: 0.5 }
  - { kind: burst, at: 10m, duration: 20m, junction: J-D2-020, coefficient: 150 }
  - { kind: pump_trip, at: 2h, duration: 1h30m, pump: PU-1 }
  - { kind: valve_closure, at: 120, duration: 600, valve: V-D3-PRV }
  - { kind: tank_drain, at: 0, pumps: [PU-1, PU-2] }
  - { kind: sensor_fault, at: 1m, tag: dma-2.inlet.flow, fault: drift, rate_per_hour: 10 }
  - { kind: sensor_fault, at: 1m, tag: dma-3.pressure.1, fault: spike, magnitude: 20 }
  - { kind: sensor_fault, at: 1m, tag: ps.tank.level, fault: dropout }
  - { id: radio-down, kind: plc_offline, at: 1d, device: plc-dma }
  - { kind: demand_surge, at: 5m, zone: all, factor: 1.3 }
complaints: { noise_per_hour: 0, delay_min_s: 10, delay_max_s: 20, channels: { whatsapp: 1 } }
`,
  },
  {
    name: 'unknown event kind',
    yaml: 'id: s\nevents:\n  - { kind: flood, at: 1m, junction: J-D1-030 }\n',
    errorPaths: ['events[0].kind'],
  },
  {
    name: 'bad durations',
    yaml: 'id: s\nevents:\n  - { kind: pump_trip, at: soon, pump: PU-1 }\n  - { kind: pump_trip, at: 1m, duration: 0, pump: PU-1 }\n  - { kind: pump_trip, at: -5, pump: PU-1 }\n',
    errorPaths: ['events[0].at', 'events[1].duration', 'events[2].at'],
  },
  {
    name: 'missing and unknown fields',
    yaml: 'id: s\nevents:\n  - { kind: burst, at: 1m, coefficient: 10 }\n  - { kind: leak, at: 1m, junction: J-D1-030, coefficient: 1, size: big }\n',
    errorPaths: ['events[0].junction', 'events[1]'],
  },
  {
    name: 'fault parameters that do not fit the fault',
    yaml: 'id: s\nevents:\n  - { kind: sensor_fault, at: 1m, tag: t, fault: drift }\n  - { kind: sensor_fault, at: 1m, tag: t, fault: spike }\n  - { kind: sensor_fault, at: 1m, tag: t, fault: stuck, magnitude: 3 }\n  - { kind: sensor_fault, at: 1m, tag: t, fault: melted }\n',
    errorPaths: ['events[0].rate_per_hour', 'events[1].magnitude', 'events[2].magnitude', 'events[3].fault'],
  },
  {
    name: 'duplicate event ids',
    yaml: 'id: s\nevents:\n  - { id: trip, kind: pump_trip, at: 1m, pump: PU-1 }\n  - { id: trip, kind: pump_trip, at: 2m, pump: PU-2 }\n',
    errorPaths: ['events[1].id'],
  },
  {
    name: 'no events, bad id, bad complaint settings',
    yaml: 'id: "no spaces please"\nevents: []\ncomplaints: { delay_min_s: 600, delay_max_s: 60, no_water_m: 20 }\n',
    errorPaths: ['id', 'events', 'complaints.delay_max_s', 'complaints.no_water_m'],
  },
  {
    name: 'negative factor and empty pump list',
    yaml: 'id: s\nevents:\n  - { kind: demand_surge, at: 1m, zone: dma-1, factor: -1 }\n  - { kind: tank_drain, at: 1m, pumps: [] }\n',
    errorPaths: ['events[0].factor', 'events[1].pumps'],
  },
  {
    name: 'YAML that does not parse',
    yaml: 'id: s\nevents: [\n',
    errorPaths: [''],
  },
];

/** Scenarios that parse but name elements the demo network or site does not have. */
const unknownElements: Array<{ name: string; event: string; errorPath: string; message: RegExp }> = [
  { name: 'junction', event: '{ kind: burst, at: 1m, junction: J-D9-001, coefficient: 10 }', errorPath: 'events[0].junction', message: /unknown junction "J-D9-001"/ },
  { name: 'tank as a junction', event: '{ kind: leak, at: 1m, junction: T-1, coefficient: 1 }', errorPath: 'events[0].junction', message: /is a tank/ },
  { name: 'pump', event: '{ kind: pump_trip, at: 1m, pump: PU-9 }', errorPath: 'events[0].pump', message: /unknown pump "PU-9"/ },
  { name: 'pipe as a pump', event: '{ kind: tank_drain, at: 1m, pumps: [PU-1, P-D2-IN] }', errorPath: 'events[0].pumps[1]', message: /not a pump/ },
  { name: 'valve', event: '{ kind: valve_closure, at: 1m, valve: V-NOWHERE }', errorPath: 'events[0].valve', message: /unknown valve/ },
  { name: 'tag', event: '{ kind: sensor_fault, at: 1m, tag: dma-9.pressure.1, fault: stuck }', errorPath: 'events[0].tag', message: /unknown tag/ },
  { name: 'device', event: '{ kind: plc_offline, at: 1m, device: plc-moon }', errorPath: 'events[0].device', message: /unknown device/ },
  { name: 'zone', event: '{ kind: demand_surge, at: 1m, zone: dma-7, factor: 2 }', errorPath: 'events[0].zone', message: /unknown zone/ },
];

describe('scenario files', () => {
  let site: SiteConfig;
  let elements: NetworkElements;

  before(async () => {
    site = await loadSiteConfig('config/demo-town.yaml');
    const model = await HydraulicModel.open(DEMO_TOWN_NETWORK);
    elements = model.elements();
    model.close();
  });

  it('reads durations as people write them', () => {
    const cases: Array<[string, number | undefined]> = [
      ['90s', 90],
      ['10m', 600],
      ['2h', 7200],
      ['1h30m', 5400],
      ['1d', 86_400],
      ['0.5h', 1800],
      ['45', 45],
      ['10 minutes', undefined],
      ['m', undefined],
      ['', undefined],
    ];
    for (const [text, seconds] of cases) expect(parseDurationS(text), text).to.equal(seconds);
  });

  for (const file of files) {
    it(`${file.errorPaths === undefined ? 'accepts' : 'rejects'}: ${file.name}`, () => {
      if (file.errorPaths === undefined) {
        const scenario = parseScenario(file.yaml, 'case.yaml');
        expect(validateScenario(scenario, { elements, site })).to.deep.equal([]);
        return;
      }
      let error: unknown;
      try {
        parseScenario(file.yaml, 'case.yaml');
      } catch (caught) {
        error = caught;
      }
      expect(error).to.be.instanceOf(ConfigError);
      const failure = error as ConfigError;
      expect(failure.file).to.equal('case.yaml');
      expect(failure.code).to.equal('bad_config');
      expect(failure.message).to.match(/^case\.yaml: invalid configuration/);
      expect([...new Set(failure.issues.map((issue) => issue.path))].sort()).to.deep.equal([...file.errorPaths].sort());
      for (const issue of failure.issues) expect(failure.message).to.include(`${issue.path || '(document)'}: ${issue.message}`);
    });
  }

  it('gives times in seconds, default event ids and complaint settings', () => {
    const scenario = parseScenario(files[0]!.yaml, 'case.yaml');
    expect(scenario.events.map((event) => [event.id, event.atS, event.durationS])).to.deep.equal([
      ['leak-1', 90, null],
      ['burst-2', 600, 1200],
      ['pump_trip-3', 7200, 5400],
      ['valve_closure-4', 120, 600],
      ['tank_drain-5', 0, null],
      ['sensor_fault-6', 60, null],
      ['sensor_fault-7', 60, null],
      ['sensor_fault-8', 60, null],
      ['radio-down', 86_400, null],
      ['demand_surge-10', 300, null],
    ]);
    expect(scenario.complaints).to.include({ service_level_m: 10, noise_per_hour: 0, delay_min_s: 10, delay_max_s: 20, leak_radius_m: 150 });
    const defaults = parseScenario('id: s\nevents: [{ kind: pump_trip, at: 0, pump: PU-1 }]\n', 'case.yaml');
    expect(defaults.complaints).to.include({ service_level_m: 10, noise_per_hour: 2, no_water_m: 1 });
  });

  for (const entry of unknownElements) {
    it(`names an unknown ${entry.name} by its path when validated against the demo network`, () => {
      const scenario = parseScenario(`id: s\nevents:\n  - ${entry.event}\n`, 'case.yaml');
      const issues = validateScenario(scenario, { elements, site });
      expect(issues.map((issue) => issue.path)).to.deep.equal([entry.errorPath]);
      expect(issues[0]!.message).to.match(entry.message);
    });
  }

  describe(`every file in ${SCENARIO_DIR}`, () => {
    const names = readdirSync(SCENARIO_DIR).filter((name) => /\.ya?ml$/.test(name)).sort();

    it('includes the demo and the library', () => {
      expect(names).to.include.members([
        'demo.yaml',
        'leak-small.yaml',
        'leak-growing.yaml',
        'burst-dma-2.yaml',
        'pump-trip.yaml',
        'valve-closure.yaml',
        'tank-drain.yaml',
        'sensor-faults.yaml',
        'plc-offline.yaml',
        'demand-surge.yaml',
      ]);
    });

    for (const name of names) {
      it(`${name} parses and validates against the demo network`, () => {
        const file = path.join(SCENARIO_DIR, name);
        const scenario: Scenario = parseScenario(readFileSync(file, 'utf8'), file);
        expect(scenario.id).to.equal(name.replace(/\.ya?ml$/, ''));
        expect(validateScenario(scenario, { elements, site })).to.deep.equal([]);
      });
    }

    it('demo.yaml shows something within the first three minutes', () => {
      const scenario = parseScenario(readFileSync(path.join(SCENARIO_DIR, 'demo.yaml'), 'utf8'), 'demo.yaml');
      expect(Math.min(...scenario.events.map((event) => event.atS))).to.be.at.most(120);
    });
  });
});
