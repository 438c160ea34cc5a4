// tirta scenario run FILE...: plays scenario files on the whole system, checks their
// expectations, prints a line per scenario as it goes and a summary, and writes JUnit XML and
// JSON reports. Exit 1 when any expectation is not met or a run could not finish.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { Services } from '../runtime/roles.js';
import { jsonReport } from '../scenario-run/json-report.js';
import { junitReport } from '../scenario-run/junit-report.js';
import { DEFAULT_SPEED, runScenarioFiles } from '../scenario-run/scenario-runner.js';
import { progressLine, summary } from '../scenario-run/terminal-report.js';

export interface ScenarioCommandOptions {
  arguments: string[];
  speed: number | undefined;
  seed: number | undefined;
  junit: string | undefined;
  json: string | undefined;
  jobs: number | undefined;
}

export async function scenarioCommand(services: Services, options: ScenarioCommandOptions, out: Pick<Console, 'log'>): Promise<number> {
  const [action, ...files] = options.arguments;
  if (action !== 'run') throw new UsageError(action === undefined ? 'tirta scenario needs an action: tirta scenario run FILE...' : `unknown action "${action}": tirta scenario run FILE...`);
  if (files.length === 0) throw new UsageError('tirta scenario run needs at least one scenario file');
  const results = await runScenarioFiles(
    { env: services.env, site: services.site, log: services.log, lifecycle: services.lifecycle },
    { files, speed: options.speed ?? DEFAULT_SPEED, seed: options.seed, jobs: options.jobs ?? 1 },
    (event) => out.log(progressLine(event)),
  );
  out.log(summary(results));
  const write = async (file: string, text: string) => {
    await mkdir(path.dirname(path.resolve(file)), { recursive: true });
    await writeFile(file, text);
  };
  if (options.junit !== undefined) await write(options.junit, junitReport(results));
  if (options.json !== undefined) await write(options.json, jsonReport(results));
  return results.every((result) => result.status === 'passed') ? 0 : 1;
}
