// The demo plant's process values from the hydraulic model: each tag reads the model element it
// is bound to (the tag's `model` in the site config), commands written by clients (pump
// start/stop, valve setpoints) change the hydraulics, and a tag can be pinned to a value, as a
// stuck sensor would be. Simulated time comes from a SimClock that advances the model.
import { fileURLToPath } from 'node:url';
import type { SiteConfig, Tag } from '../../src/contracts/site.js';
import { HydraulicModel } from '../hydraulics/hydraulic-model.js';
import { SimClock } from '../hydraulics/sim-clock.js';
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
}

export class HydraulicPlant implements PlantValueSource {
  private readonly tags: Map<string, Tag>;
  private readonly pinned = new Map<string, number>();
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
    const clock = new SimClock({ startEpochMs, mode: speed === 1 ? 'realtime' : 'accelerated', speedFactor: speed });
    const plant = new HydraulicPlant(site, model, clock);
    for (const tag of site.tags) if (tag.model !== undefined) plant.readModel(tag); // unknown elements fail at start, not at the first poll
    return plant;
  }

  start(): void {
    this.removeTickListener = this.clock.onTick((tick) => this.model.advanceTo(tick.simTimeS));
    this.clock.start();
  }

  stop(): void {
    this.clock.stop();
    this.removeTickListener?.();
    this.model.close();
  }

  read(tagId: string): PlantReading {
    const tag = this.tags.get(tagId);
    if (tag === undefined) return { value: null, quality: 'bad' };
    const pinned = this.pinned.get(tagId);
    if (pinned !== undefined) return { value: pinned, quality: 'good' };
    if (tag.model === undefined) return { value: null, quality: 'bad' };
    return { value: this.readModel(tag), quality: 'good' };
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

  private readModel(tag: Tag): number {
    const binding = tag.model!;
    const value = this.model.readElement(binding.element, binding.quantity);
    // A meter reads the magnitude of the flow through it.
    return binding.quantity === 'flow' ? Math.abs(value) : value;
  }
}
