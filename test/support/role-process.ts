// One role of the `tirta` command (sim, connector, ingest, engine, api) in its own process, as a
// site runs it: a test can stop it, kill it with SIGKILL as a crash would, and start it again
// with the same arguments and environment (so the same data directory and MQTT session).
import { spawn, type ChildProcess } from 'node:child_process';

/** The log line each role writes once it is serving. */
const READY: Record<string, string> = {
  sim: 'hydraulic model running',
  connector: 'connector polling',
  ingest: 'ingest connected to broker',
  engine: 'engine caught up from stored telemetry and complaints',
  api: 'Tirta API listening on',
};

export class RoleProcess {
  private child: ChildProcess | undefined;
  private log = '';
  private exited: Promise<number | null> = Promise.resolve(null);
  /** Starts, including restarts; a test reads it to show what happened. */
  starts = 0;

  constructor(
    readonly role: string,
    private readonly args: string[],
    private readonly env: Record<string, string>,
  ) {}

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Everything the process (all its runs) wrote, for a failing test's message. */
  output(): string {
    return this.log;
  }

  /** Starts the role and waits until it logs that it is serving. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.running) throw new Error(`${this.role} is already running`);
    const child = spawn(process.execPath, ['src/cli/bin.js', this.role, ...this.args], {
      env: { ...process.env, LOG_LEVEL: 'info', ...this.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.starts += 1;
    this.log += `--- start ${this.starts} of ${this.role}\n`;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal === null ? null : -1))));
    const ready = READY[this.role]!;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.role} not ready within ${timeoutMs} ms:\n${this.log.slice(-4000)}`)), timeoutMs);
      const onData = (chunk: Buffer) => {
        this.log += chunk.toString();
        if (this.log.includes(ready, this.log.lastIndexOf('--- start'))) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', onData);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${this.role} exited (${code ?? signal}) before it was ready:\n${this.log.slice(-4000)}`));
      });
    });
  }

  /** Sends the signal and waits for the process to exit; SIGTERM is a clean stop, SIGKILL a crash. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (!this.running) return this.exited;
    this.child!.kill(signal);
    return this.exited;
  }

  /** Resolves with the exit code when the process exits on its own or is killed. */
  whenExited(): Promise<number | null> {
    return this.exited;
  }
}
