// A broker on a fixed port that a test stops and starts itself: a private mosquitto when the
// binary is installed (persistence on, in a temporary directory, so sessions outlive a restart;
// no queue limit, so a session's backlog is never dropped), else the embedded aedes broker.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect as tcpConnect } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { silentLogger } from '../../src/log.js';
import { freePort, startEmbeddedBroker, type EmbeddedService } from '../../src/runtime/embedded-services.js';
import { waitFor } from './services.js';

const MOSQUITTO = '/usr/sbin/mosquitto';

/** A broker on a fixed port that can be stopped and started again. */
export interface RestartableBroker {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  remove(): Promise<void>;
}

export async function restartableBroker(): Promise<RestartableBroker> {
  const port = await freePort();
  const url = `mqtt://127.0.0.1:${port}`;
  if (!existsSync(MOSQUITTO)) {
    let running: EmbeddedService | undefined;
    return {
      url,
      start: async () => void (running = await startEmbeddedBroker(silentLogger, port)),
      stop: async () => void (await running?.stop()),
      remove: async () => void (await running?.stop()),
    };
  }
  const dir = await mkdtemp(path.join(os.tmpdir(), 'tirta-mosquitto-'));
  const config = path.join(dir, 'mosquitto.conf');
  const runsAsRoot = process.getuid?.() === 0;
  await writeFile(
    config,
    [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence true', `persistence_location ${dir}/`, 'max_queued_messages 0', 'log_dest none', runsAsRoot ? 'user root' : ''].join('\n'),
  );
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child!.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
    child = undefined;
  };
  return {
    url,
    async start() {
      child = spawn(MOSQUITTO, ['-c', config], { stdio: 'ignore' });
      await waitFor('mosquitto listening', () => new Promise<true | undefined>((resolve) => {
        const socket = tcpConnect(port, '127.0.0.1', () => (socket.destroy(), resolve(true))).once('error', () => resolve(undefined));
      }), 10_000, 50);
    },
    stop,
    async remove() {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

