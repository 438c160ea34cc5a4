// Owns shutdown: parts stop in the reverse order of their start (stop polling, flush, close),
// within a deadline, on SIGINT or SIGTERM.
import type { Logger } from '../log.js';

export interface RunningPart {
  name: string;
  stop(): Promise<void>;
}

export const SHUTDOWN_DEADLINE_MS = 9_000;

export class Lifecycle {
  private readonly parts: RunningPart[] = [];
  private stopping: Promise<boolean> | undefined;

  constructor(private readonly log: Logger) {}

  add(name: string, stop: () => Promise<void>): void {
    this.parts.push({ name, stop });
  }

  /** Stops every part; resolves true when all stopped cleanly within the deadline. */
  stop(deadlineMs = SHUTDOWN_DEADLINE_MS): Promise<boolean> {
    this.stopping ??= this.stopAll(deadlineMs);
    return this.stopping;
  }

  /** Resolves with the signal's name once SIGINT or SIGTERM arrives. */
  waitForSignal(): Promise<NodeJS.Signals> {
    return new Promise((resolve) => {
      const onSignal = (signal: NodeJS.Signals) => {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve(signal);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    });
  }

  private async stopAll(deadlineMs: number): Promise<boolean> {
    let clean = true;
    const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), deadlineMs).unref());
    const run = (async () => {
      for (const part of [...this.parts].reverse()) {
        try {
          await part.stop();
          this.log.debug({ part: part.name }, 'stopped');
        } catch (error) {
          clean = false;
          this.log.error({ err: error, part: part.name }, 'failed to stop cleanly');
        }
      }
    })();
    if ((await Promise.race([run, deadline])) === 'timeout') {
      this.log.error({ deadlineMs }, 'shutdown deadline passed; exiting with parts still open');
      return false;
    }
    return clean;
  }
}
