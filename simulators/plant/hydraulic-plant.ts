// The demo plant's process values from the hydraulic model: each tag reads the model element it
// is bound to (the tag's `model` in the site config), commands written by clients (pump
// start/stop, valve setpoints) change the hydraulics, a tag can be pinned to a value, and a
// sensor fault (stuck, drift, spike, dropout) can be laid over a tag's readings, as a failing
// instrument would distort them. Simulated time comes from a SimClock that advances the model;
// on each tick, hooks run before the model solves (to change it: scenarios) and after (to
// observe it: synthetic complaints).
import { fileURLToPath } from 'node:url';
import type { SiteConfig, Tag } from '../../src/contracts/site.js';
import { HydraulicModel } from '../hydraulics/hydraulic-model.js';
import { SimClock, type SimClockMode, type SimTick, type SimTickListener } from '../hydraulics/sim-clock.js';
import type { PlantReading, PlantValueSource } from './plant-source.js';

export const DEMO_TOWN_NETWORK = fileURLToPath(new URL('../hydraulics/networks/demo-town.inp', import.meta.url));

const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

/** Seconds since the last Monday 00:00 in the site's time zone: where the weekly demand pattern starts. */
export function secondsSinceLocalMonday(epochMs: number, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })
      .formatToParts(new Date(epochMs))
      .map((part) => [part.type, part.value]),
  );
  return WEEKDAYS.indexOf(parts.weekday!) * 86_400 + Number(parts.hour) * 3600 + Number(parts.minute) * 60 + Number(parts.second);
}

export interface HydraulicPlantOptions {
  network?: string;
  seed?: number;
  /** Simulated seconds per wall second; 1 runs in real time. */
  speed?: number;
  startEpochMs?: number;
  /** `stepped` for tests (advance with `plant.clock.step(seconds)`); by default realtime at speed 1, else accelerated. */
  clockMode?: SimClockMode;
}

/** A failing instrument's distortion of a tag's readings. */
export type SensorFault =
  | { kind: 'stuck' }
  | { kind: 'drift'; ratePerHour: number }
  | { kind: 'spike'; magnitude: number }
  | { kind: 'dropout' };

/** Every SPIKE_EVERY_READS-th reading of a spiking tag carries the spike: visible at any poll rate and clock speed. */
export const SPIKE_EVERY_READS = 5;

interface ActiveFault {
  fault: SensorFault;
  sinceMs: number;
  /** The reading the sensor froze at (stuck). */
  heldValue: number | null;
  reads: number;
}

const MS_PER_HOUR = 3_600_000;

export class HydraulicPlant implements PlantValueSource {
  private readonly tags: Map<string, Tag>;
  private readonly pinned = new Map<string, number>();
  private readonly faults = new Map<string, ActiveFault>();
  private readonly beforeAdvance = new Set<SimTickListener>();
  private readonly afterAdvance = new Set<SimTickListener>();
  private removeTickListener: (() => void) | undefined;

  private constructor(
    site: SiteConfig,
    readonly model: HydraulicModel,
    readonly clock: SimClock,
  ) {
    this.tags = new Map(site.tags.map((tag) => [tag.id, tag]));
  }

  static async open(site: SiteConfig, options: HydraulicPlantOptions = {}): Promise<HydraulicPlant> {
    const startEpochMs = options.startEpochMs ?? Date.now();
    const speed = options.speed ?? 1;
    const model = await HydraulicModel.open(options.network ?? DEMO_TOWN_NETWORK, {
      seed: options.seed ?? 1,
      patternStartS: secondsSinceLocalMonday(startEpochMs, site.site.timezone),
    });
    const clock = new SimClock({ startEpochMs, mode: options.clockMode ?? (speed === 1 ? 'realtime' : 'accelerated'), speedFactor: speed });
    const plant = new HydraulicPlant(site, model, clock);
    for (const tag of site.tags) if (tag.model !== undefined) plant.readModel(tag); // unknown elements fail at start, not at the first poll
    return plant;
  }

  /** Advances the model on every clock tick; in stepped mode each `clock.step()` is a tick. */
  start(): void {
    this.removeTickListener ??= this.clock.onTick((tick) => this.tick(tick));
    this.clock.start();
  }

  stop(): void {
    this.clock.stop();
    this.removeTickListener?.();
    this.removeTickListener = undefined;
    this.beforeAdvance.clear();
    this.afterAdvance.clear();
    this.model.close();
  }

  /**
   * Runs on each tick before the model solves for the tick's time, so changes made here (a
   * scenario's burst, pump trip…) are in the solution for that time. Returns its removal.
   */
  onBeforeAdvance(listener: SimTickListener): () => void {
    this.beforeAdvance.add(listener);
    return () => this.beforeAdvance.delete(listener);
  }

  /** Runs on each tick once the model has solved for the tick's time: readings are that time's. */
  onAfterAdvance(listener: SimTickListener): () => void {
    this.afterAdvance.add(listener);
    return () => this.afterAdvance.delete(listener);
  }

  read(tagId: string): PlantReading {
    const tag = this.tags.get(tagId);
    if (tag === undefined) return { value: null, quality: 'bad' };
    const fault = this.faults.get(tagId);
    if (fault === undefined) return this.readHealthy(tag);
    return this.readFaulty(tag, fault);
  }

  write(tagId: string, value: number): void {
    const tag = this.tags.get(tagId);
    if (tag?.model === undefined) throw new RangeError(`tag "${tagId}" is not bound to the hydraulic model`);
    if (tag.kind === 'pump_status') this.model.setPumpRunning(tag.model.element, value !== 0);
    else if (tag.kind === 'setpoint' || tag.model.quantity === 'setting') this.model.setValveSetting(tag.model.element, value);
    else if (tag.kind === 'valve_position') this.model.setLinkOpen(tag.model.element, value > 0);
    else throw new RangeError(`tag "${tagId}" measures ${tag.kind}: it does not take commands`);
  }

  pin(tagId: string, value: number): void {
    if (!this.tags.has(tagId)) throw new RangeError(`unknown tag "${tagId}"`);
    this.pinned.set(tagId, value);
  }

  unpin(tagId: string): void {
    this.pinned.delete(tagId);
  }

  /**
   * Lays a fault over a tag's readings from now (or from `sinceMs`, simulated epoch ms, for a
   * drift that began earlier) until `clearFault`. A new fault replaces the tag's current one.
   */
  setFault(tagId: string, fault: SensorFault, sinceMs: number = this.clock.now()): void {
    const tag = this.tags.get(tagId);
    if (tag === undefined) throw new RangeError(`unknown tag "${tagId}"`);
    // A stuck sensor keeps showing the last value it measured.
    const heldValue = fault.kind === 'stuck' ? this.readHealthy(tag).value : null;
    this.faults.set(tagId, { fault, sinceMs, heldValue, reads: 0 });
  }

  clearFault(tagId: string): void {
    this.faults.delete(tagId);
  }

  /** The tag's current fault, if any. */
  faultOf(tagId: string): SensorFault | undefined {
    return this.faults.get(tagId)?.fault;
  }

  private tick(tick: SimTick): void {
    for (const listener of [...this.beforeAdvance]) listener(tick);
    this.model.advanceTo(tick.simTimeS);
    for (const listener of [...this.afterAdvance]) listener(tick);
  }

  private readHealthy(tag: Tag): PlantReading {
    const pinned = this.pinned.get(tag.id);
    if (pinned !== undefined) return { value: pinned, quality: 'good' };
    if (tag.model === undefined) return { value: null, quality: 'bad' };
    return { value: this.readModel(tag), quality: 'good' };
  }

  // The faulty instrument still reports good quality (except dropout): that is what makes these
  // faults hard to tell from real process changes.
  private readFaulty(tag: Tag, active: ActiveFault): PlantReading {
    const { fault } = active;
    if (fault.kind === 'dropout') return { value: null, quality: 'bad' };
    if (fault.kind === 'stuck') return active.heldValue === null ? { value: null, quality: 'bad' } : { value: active.heldValue, quality: 'good' };
    const healthy = this.readHealthy(tag);
    if (healthy.value === null) return healthy;
    if (fault.kind === 'drift') {
      const elapsedHours = Math.max(0, this.clock.now() - active.sinceMs) / MS_PER_HOUR;
      return { value: healthy.value + fault.ratePerHour * elapsedHours, quality: healthy.quality };
    }
    active.reads += 1;
    const spiking = active.reads % SPIKE_EVERY_READS === 0;
    return { value: spiking ? healthy.value + fault.magnitude : healthy.value, quality: healthy.quality };
  }

  private readModel(tag: Tag): number {
    const binding = tag.model!;
    const value = this.model.readElement(binding.element, binding.quantity);
    // A meter reads the magnitude of the flow through it.
    return binding.quantity === 'flow' ? Math.abs(value) : value;
  }
}
