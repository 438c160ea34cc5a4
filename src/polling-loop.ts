// A task run again and again in the background: each run starts a fixed interval after the
// previous one ended, so runs never overlap, and stop() waits for the run in flight. The owner
// decides what a failed run means; the loop goes on.
export interface PollingLoopOptions {
  intervalMs: number;
  /** Delay before the first run; 0 runs at once. */
  firstRunAfterMs?: number;
  onError: (error: unknown) => void;
}

export class PollingLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    private readonly run: () => Promise<unknown>,
    private readonly options: PollingLoopOptions,
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(this.options.firstRunAfterMs ?? 0);
  }

  /** Stops the loop; resolves once the run in flight has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.running = this.run()
        .then(() => undefined)
        .catch((error: unknown) => this.options.onError(error))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.schedule(this.options.intervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }
}
