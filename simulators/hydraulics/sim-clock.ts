// Simulated time for the plant: the one source of "now" for the hydraulic model and everything
// that stamps simulated readings. Real time, accelerated (a simulated minute per wall second at
// 60×) or stepped by hand in tests. Wall time and timers are injected, so the clock is testable
// without waiting and leaves no timer behind once stopped.

export type SimClockMode = 'realtime' | 'accelerated' | 'stepped';

export interface SimTick {
  /** Simulated seconds since the start epoch. */
  simTimeS: number;
  /** Simulated epoch milliseconds. */
  nowMs: number;
}

export type SimTickListener = (tick: SimTick) => void;

/** The wall-clock side: monotonic time and a repeating timer. */
export interface WallTimers {
  nowMs(): number;
  setInterval(callback: () => void, intervalMs: number): unknown;
  clearInterval(handle: unknown): void;
}

export interface SimClockOptions {
  /** Simulated epoch (ms) at simulated time 0. */
  startEpochMs: number;
  mode: SimClockMode;
  /** Simulated seconds per wall second in accelerated mode (default 60). */
  speedFactor?: number;
  /** Wall milliseconds between ticks in realtime and accelerated modes (default 1000). */
  tickIntervalMs?: number;
  timers?: WallTimers;
}

export class SimClockError extends Error {
  constructor(
    readonly code: 'bad_argument' | 'wrong_mode',
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export const systemTimers: WallTimers = {
  nowMs: () => performance.now(),
  setInterval: (callback, intervalMs) => setInterval(callback, intervalMs),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

export class SimClock {
  readonly mode: SimClockMode;
  readonly startEpochMs: number;
  /** Simulated seconds per wall second. */
  readonly speedFactor: number;
  private readonly tickIntervalMs: number;
  private readonly timers: WallTimers;
  private readonly listeners = new Set<SimTickListener>();
  /** Simulated seconds accumulated up to the last start (or step). */
  private baseSimTimeS = 0;
  private runningSinceWallMs: number | undefined;
  private timer: unknown;

  constructor(options: SimClockOptions) {
    this.mode = options.mode;
    this.startEpochMs = options.startEpochMs;
    this.speedFactor = options.mode === 'realtime' ? 1 : options.mode === 'accelerated' ? (options.speedFactor ?? 60) : 0;
    this.tickIntervalMs = options.tickIntervalMs ?? 1000;
    this.timers = options.timers ?? systemTimers;
    if (!Number.isFinite(options.startEpochMs)) throw new SimClockError('bad_argument', `startEpochMs must be a finite number, got ${options.startEpochMs}`);
    if (options.mode === 'accelerated' && !(this.speedFactor > 0 && Number.isFinite(this.speedFactor))) {
      throw new SimClockError('bad_argument', `speedFactor must be a positive number, got ${options.speedFactor}`);
    }
    if (!(this.tickIntervalMs > 0)) throw new SimClockError('bad_argument', `tickIntervalMs must be positive, got ${options.tickIntervalMs}`);
  }

  /** Simulated seconds since the start epoch. */
  simTimeS(): number {
    if (this.runningSinceWallMs === undefined) return this.baseSimTimeS;
    return this.baseSimTimeS + ((this.timers.nowMs() - this.runningSinceWallMs) / 1000) * this.speedFactor;
  }

  /** Simulated epoch milliseconds. */
  now(): number {
    return this.startEpochMs + this.simTimeS() * 1000;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  /** Adds a listener called on every tick; returns its removal. */
  onTick(listener: SimTickListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts ticking in realtime and accelerated modes; does nothing if already running or stepped. */
  start(): void {
    if (this.mode === 'stepped' || this.timer !== undefined) return;
    this.runningSinceWallMs = this.timers.nowMs();
    this.timer = this.timers.setInterval(() => this.tick(), this.tickIntervalMs);
  }

  /** Stops ticking and freezes simulated time where it is; start() resumes from there. */
  stop(): void {
    if (this.timer === undefined) return;
    this.timers.clearInterval(this.timer);
    this.timer = undefined;
    this.baseSimTimeS = this.simTimeS();
    this.runningSinceWallMs = undefined;
  }

  /** Stepped mode only: moves simulated time forward and ticks once. */
  step(seconds: number): void {
    if (this.mode !== 'stepped') throw new SimClockError('wrong_mode', `step() needs a stepped clock; this one is ${this.mode}`);
    if (!(seconds >= 0 && Number.isFinite(seconds))) throw new SimClockError('bad_argument', `step must be a finite number of seconds >= 0, got ${seconds}`);
    this.baseSimTimeS += seconds;
    this.tick();
  }

  // Listener errors propagate: from step() to its caller, from a timer as an uncaught error,
  // because a plant whose physics failed must not keep serving stale values quietly.
  private tick(): void {
    const simTimeS = this.simTimeS();
    const tick = { simTimeS, nowMs: this.startEpochMs + simTimeS * 1000 };
    for (const listener of [...this.listeners]) listener(tick);
  }
}
