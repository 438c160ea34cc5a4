// tirta scenario run through the real command: the whole system in accelerated time, checked
// through its API. The same scenario and seed give the same verdict run after run; a failed
// expectation exits 1 and its reports say what was expected and what happened, with ids and times.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import type { ScenarioRunResult } from '../../src/scenario-run/results.js';
import { testServices } from '../support/services.js';

interface CommandRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function tirta(args: string[], dataDir: string): Promise<CommandRun> {
  const { adminUrl, mqttUrl } = await testServices();
  const child = spawn(process.execPath, ['src/cli/bin.js', ...args], {
    env: { ...process.env, DATABASE_URL: adminUrl, MQTT_URL: mqttUrl, TIRTA_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
  return { code, stdout, stderr };
}

interface JsonReport {
  passed: boolean;
  counts: { scenarios: number; passed: number; failed: number; errors: number };
  scenarios: ScenarioRunResult[];
}

describe('tirta scenario run', function () {
  this.timeout(600_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'tirta-scenario-run-'));
  });

  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('gives the same verdict on the burst in DMA 2 three runs out of three', async () => {
    const verdicts: Array<Array<{ name: string; passed: boolean }>> = [];
    for (let run = 1; run <= 3; run++) {
      const json = path.join(dir, `burst-${run}.json`);
      const result = await tirta(['scenario', 'run', 'config/scenarios/burst-dma-2.yaml', '--seed', '103', '--speed', '60', '--json', json], dir);
      const report = JSON.parse(await readFile(json, 'utf8')) as JsonReport;
      expect(result.code, `run ${run}:\n${result.stdout}\n${result.stderr.slice(-3000)}`).to.equal(0);
      expect(report.scenarios[0]).to.include({ scenario: 'burst-dma-2', status: 'passed', seed: 103, speed: 60 });
      expect(result.stdout).to.contain('✔ burst-dma-2: passed, 3 of 3 expectations met');
      verdicts.push(report.scenarios[0]!.expectations.map(({ name, passed }) => ({ name, passed })));
    }
    expect(verdicts[0]).to.deep.equal([
      { name: 'p1-incident', passed: true },
      { name: 'repair-crew-assigned', passed: true },
      { name: 'complaints-on-incident', passed: true },
    ]);
    expect(verdicts[1]).to.deep.equal(verdicts[0]);
    expect(verdicts[2]).to.deep.equal(verdicts[0]);
  });

  it('exits 1 on an expectation the system does not meet, and reports what was expected and what happened', async () => {
    const file = path.join(dir, 'burst-wrong-crew.yaml');
    await writeFile(
      file,
      `id: burst-wrong-crew
seed: 103
events:
  - { id: braga-burst, kind: burst, at: 1m, duration: 1h, junction: J-D2-020, coefficient: 150 }
expect:
  - { name: any-incident, kind: incident, after: braga-burst, within: 15m, zone: dma-2 }
  - { name: lab-crew-sent, kind: work_order, after: braga-burst, within: 15m, zone: dma-2, crew_skill: quality_sampling }
`,
    );
    const junit = path.join(dir, 'reports', 'junit.xml');
    const json = path.join(dir, 'reports', 'report.json');
    const result = await tirta(['scenario', 'run', file, '--speed', '60', '--junit', junit, '--json', json], dir);
    expect(result.code, `${result.stdout}\n${result.stderr.slice(-3000)}`).to.equal(1);
    expect(result.stdout).to.contain('✘ burst-wrong-crew: failed, 1 of 2 expectations not met');
    expect(result.stdout).to.match(/✘ lab-crew-sent \(work_order\)\n\s+expected: a work order in zone dma-2 assigned to a crew with the quality_sampling skill, by \+16m, within 15m of braga-burst \(at \+1m\)\n\s+actual: +by \+16m: WO-\d+ \(wo-[^,]+, /);

    const report = JSON.parse(await readFile(json, 'utf8')) as JsonReport;
    expect(report).to.deep.include({ passed: false, counts: { scenarios: 1, passed: 0, failed: 1, errors: 0 } });
    const [incident, workOrder] = report.scenarios[0]!.expectations;
    expect(incident).to.include({ name: 'any-incident', passed: true });
    expect(workOrder).to.include({ name: 'lab-crew-sent', kind: 'work_order', passed: false });
    expect(workOrder!.window).to.deep.equal({ fromS: 60, toS: 960, after: 'braga-burst' });
    expect(workOrder!.actual).to.match(/WO-\d+ \(wo-\S+, \w+, zone dma-2, priority P\d, created \+\d+m(\d+s)?, crew crew-west \[burst_repair/);
    const order = workOrder!.evidence.find((item) => item.type === 'work_order')!;
    expect(order.id).to.match(/^wo-/);
    expect(Date.parse(order.at)).to.equal(Date.parse(report.scenarios[0]!.simulatedStart!) + order.atS * 1000);
    expect(order.atS).to.be.within(60, 960);

    const xml = await readFile(junit, 'utf8');
    expect(xml).to.match(/<testsuite name="burst-wrong-crew" file="[^"]+burst-wrong-crew.yaml" tests="2" failures="1" errors="0"/);
    expect(xml).to.match(/<testcase classname="burst-wrong-crew" name="any-incident \(incident\)"[^>]*>\s*<system-out>incident inc-/);
    expect(xml).to.contain('<failure message="expected a work order in zone dma-2 assigned to a crew with the quality_sampling skill, by +16m');
    expect(xml).to.contain(`work_order ${order.id} at ${order.at}`);
  });

  it('refuses an expectation naming a zone the site does not have, before starting anything', async () => {
    const file = path.join(dir, 'bad-zone.yaml');
    await writeFile(file, 'id: bad-zone\nevents:\n  - { kind: burst, at: 1m, junction: J-D2-020, coefficient: 150 }\nexpect:\n  - { kind: incident, within: 10m, zone: dma-9 }\n');
    const result = await tirta(['scenario', 'run', file], dir);
    expect(result.code).to.equal(2);
    expect(result.stderr).to.contain('expect[0].zone: unknown zone "dma-9" in the site config');
  });
});
