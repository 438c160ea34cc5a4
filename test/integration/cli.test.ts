// The `tirta` command as users run it: exit codes, help, bad config, and the whole demo in one
// process on the embedded defaults (embedded PostgreSQL and MQTT broker), stopped by SIGTERM.
import { spawn, spawnSync } from 'node:child_process';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { freePort } from '../../src/runtime/embedded-services.js';
import { apiKeyPrincipal, signIn, webhookTokenChannel } from '../../src/access/accounts.js';
import { freshDatabase, waitFor } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function tirta(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): { done: Promise<Run>; kill: (signal: NodeJS.Signals) => void; output: () => string } {
  const child = spawn(process.execPath, ['src/cli/bin.js', ...args], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (input !== undefined) child.stdin!.end(input);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return {
    done: new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr }))),
    kill: (signal) => child.kill(signal),
    output: () => stdout + stderr,
  };
}

describe('tirta command', function () {
  this.timeout(60_000);

  it('prints usage with --help and exits 0', async () => {
    const run = await tirta(['--help']).done;
    expect(run.code).to.equal(0);
    for (const command of ['all', 'connector', 'ingest', 'engine', 'api', 'sim', 'migrate', 'replay']) expect(run.stdout).to.match(new RegExp(`^  ${command} `, 'm'));
  });

  it('prints help for each command', async () => {
    const run = await tirta(['ingest', '--help']).done;
    expect(run.code).to.equal(0);
    expect(run.stdout).to.contain('Usage: tirta ingest').and.to.contain('DATABASE_URL');
  });

  it('exits 2 on an unknown command or option', async () => {
    expect((await tirta(['frobnicate']).done).code).to.equal(2);
    const run = await tirta(['api', '--colour']).done;
    expect(run.code).to.equal(2);
    expect(run.stderr).to.contain('--colour');
  });

  it('exits 2 on a bad site file, naming the file, the path inside it and why', async () => {
    const file = 'test/testcases/site-config/address-out-of-range/site.yaml';
    const run = await tirta(['migrate', '--site', file], { DATABASE_URL: 'postgres://127.0.0.1:1/none' }).done;
    expect(run.code).to.equal(2);
    expect(run.stderr).to.contain(file).and.to.contain('tags[1].modbus.address').and.to.contain('outside 0-65535');
  });

  it('exits 2 on a bad environment value, naming it', async () => {
    const run = await tirta(['api'], { PORT: 'eighty' }).done;
    expect(run.code).to.equal(2);
    expect(run.stderr).to.contain('PORT');
  });

  it('exits 1 on a runtime failure', async () => {
    const run = await tirta(['migrate'], { DATABASE_URL: 'postgres://tirta@127.0.0.1:1/none' }).done;
    expect(run.code).to.equal(1);
    expect(run.stderr).to.contain('ECONNREFUSED');
  });

  it('creates accounts, API keys and webhook tokens, refusing bad input and showing each secret once', async () => {
    const db = await freshDatabase();
    try {
      const env = { DATABASE_URL: db.url, LOG_LEVEL: 'warn' };
      const added = await tirta(['user', 'add', 'rina', '--role', 'dispatcher', '--name', 'Rina Wati'], env, 'a long enough password\n').done;
      expect(added.code, added.stderr).to.equal(0);
      expect(added.stdout).to.match(/^created rina \(dispatcher\)$/m);
      const signedIn = await signIn(db.pool, 'rina', 'a long enough password', Date.now());
      expect(signedIn?.principal).to.deep.equal({ kind: 'user', name: 'rina', role: 'dispatcher', crew: null });
      const again = await tirta(['user', 'add', 'rina', '--role', 'operator'], env, 'another long password\n').done;
      expect([again.code, again.stderr.trim()]).to.deep.equal([2, 'tirta: an account named rina already exists']);
      const short = await tirta(['user', 'add', 'ana', '--role', 'operator'], env, 'short\n').done;
      expect([short.code, short.stderr.trim()]).to.deep.equal([2, 'tirta: tirta user add: password: at least 10 characters']);
      const crewless = await tirta(['user', 'add', 'asep', '--role', 'crew'], env, 'a long enough password\n').done;
      expect([crewless.code, crewless.stderr.trim()]).to.deep.equal([2, 'tirta: tirta user add: crew: a crew member names its crew, and only a crew member does']);
      const key = await tirta(['key', 'add', 'scada-bridge', '--role', 'engineer'], env).done;
      expect(key.code, key.stderr).to.equal(0);
      const secret = /^tirta_key_[\w-]{43}$/m.exec(key.stdout)?.[0];
      expect(secret, key.stdout).to.be.a('string');
      expect(await apiKeyPrincipal(db.pool, secret!)).to.deep.equal({ kind: 'api_key', name: 'scada-bridge', role: 'engineer', crew: null });
      expect((await tirta(['key', 'revoke', 'scada-bridge'], env).done).code).to.equal(0);
      expect(await apiKeyPrincipal(db.pool, secret!)).to.equal(undefined);
      const hook = await tirta(['webhook', 'add', 'wa-provider', '--channel', 'whatsapp'], env).done;
      expect(hook.code, hook.stderr).to.equal(0);
      expect(await webhookTokenChannel(db.pool, /^tirta_hook_[\w-]{43}$/m.exec(hook.stdout)?.[0] ?? '')).to.deep.equal({ name: 'wa-provider', channel: 'whatsapp' });
      const badChannel = await tirta(['webhook', 'add', 'fax', '--channel', 'fax'], env).done;
      expect(badChannel.code).to.equal(2);
      expect(badChannel.stderr).to.contain('--channel');
    } finally {
      await db.drop();
    }
  });

  it('migrates an embedded PostgreSQL as an unprivileged user too', async function () {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tirta-user-'));
    try {
      const env = { ...process.env, DATABASE_URL: '', MQTT_URL: '', TIRTA_DATA_DIR: path.join(dataDir, 'data'), LOG_LEVEL: 'info' };
      let command = [process.execPath, 'src/cli/bin.js', 'migrate'];
      if (process.getuid?.() === 0) {
        // As root, run the same command as `nobody`: the path ordinary users take, without the postgres-user switch.
        if (spawnSync('runuser', ['-u', 'nobody', '--', 'test', '-r', 'package.json']).status !== 0) this.skip();
        const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout);
        await chown(dataDir, nobody, -1);
        command = ['runuser', '-u', 'nobody', '--', ...command];
      }
      const run = spawnSync(command[0]!, command.slice(1), { env, encoding: 'utf8', timeout: 60_000 });
      expect(run.status, run.stdout + run.stderr).to.equal(0);
      expect(run.stdout).to.contain('migrations applied');
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });

  it('runs the demo on embedded PostgreSQL and MQTT, serves telemetry, and exits 0 on SIGTERM within 10 s', async function () {
    this.timeout(120_000);
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'tirta-cli-'));
    try {
      const siteFile = path.join(dataDir, 'site.json');
      await writeFile(siteFile, JSON.stringify(await demoSiteOnFreePorts()));
      const port = await freePort();
      const process = tirta(['all', '--site', siteFile, '--scenario', 'config/scenarios/demo.yaml', '--demo-accounts', 'config/demo-accounts.yaml'], {
        DATABASE_URL: '',
        MQTT_URL: '',
        PORT: String(port),
        TIRTA_SIM_PORT: String(await freePort()),
        TIRTA_DATA_DIR: dataDir,
      });
      const baseUrl = `http://127.0.0.1:${port}`;
      await waitFor('the demo API to be healthy', async () => ((await fetch(`${baseUrl}/health`)).status === 200 ? true : undefined), 60_000, 250).catch((error: Error) => {
        throw new Error(`${error.message}\n${process.output()}`);
      });
      expect(process.output()).to.contain(`Tirta API listening on ${baseUrl}`);
      expect(process.output()).to.contain('DEMO ACCOUNTS with published passwords are enabled');
      // Signed in as the demo engineer, as the README says.
      const login = await fetch(`${baseUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'engineer', password: 'engineer-demo-pass' }) });
      expect(login.status).to.equal(200);
      const session = login.headers.getSetCookie()[0]!.split(';')[0]!;
      expect(process.output()).to.not.contain('engineer-demo-pass');
      const points = await waitFor('telemetry from the simulated plant', async () => {
        const now = Date.now();
        const response = await fetch(`${baseUrl}/api/v1/telemetry?tag=ps.outlet.pressure&from=${new Date(now - 60_000).toISOString()}&to=${new Date(now + 1000).toISOString()}&step=raw`, { headers: { cookie: session } });
        const body = (await response.json()) as { points: Array<{ value: number; quality: string }> };
        return body.points.length > 0 ? body.points : undefined;
      }, 45_000);
      expect(points[0]!.quality).to.equal('good');
      const stoppedAt = Date.now();
      process.kill('SIGTERM');
      const run = await process.done;
      expect(run.code, run.stdout + run.stderr).to.equal(0);
      expect(Date.now() - stoppedAt).to.be.below(10_000);
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
