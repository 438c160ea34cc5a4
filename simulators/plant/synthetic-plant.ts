// A light plant for wiring tests: each tag follows a smooth daily curve chosen by its kind,
// and any tag can be pinned to a value (by a test or by a client's write).
import type { SiteConfig, Tag } from '../../src/contracts/site.js';
import type { PlantReading, PlantValueSource } from './plant-source.js';

const DAY_MS = 86_400_000;

export class SyntheticPlant implements PlantValueSource {
  private readonly tags: Map<string, Tag>;
  private readonly pinned = new Map<string, number>();

  constructor(
    site: SiteConfig,
    private readonly clock: () => number = Date.now,
  ) {
    this.tags = new Map(site.tags.map((tag) => [tag.id, tag]));
  }

  read(tagId: string): PlantReading {
    const tag = this.tags.get(tagId);
    if (tag === undefined) return { value: null, quality: 'bad' };
    const pinned = this.pinned.get(tagId);
    return { value: pinned ?? this.curve(tag, this.clock()), quality: 'good' };
  }

  write(tagId: string, value: number): void {
    this.pin(tagId, value);
  }

  pin(tagId: string, value: number): void {
    if (!this.tags.has(tagId)) throw new RangeError(`unknown tag "${tagId}"`);
    this.pinned.set(tagId, value);
  }

  unpin(tagId: string): void {
    this.pinned.delete(tagId);
  }

  private curve(tag: Tag, nowMs: number): number {
    // Demand peaks in the morning and evening; pressure falls as demand rises.
    const dayFraction = (nowMs % DAY_MS) / DAY_MS;
    const demand = 1 + 0.4 * Math.sin(2 * Math.PI * (dayFraction - 0.25)) + 0.2 * Math.sin(4 * Math.PI * dayFraction);
    switch (tag.kind) {
      case 'pressure':
        return round(45 - 8 * demand, 2);
      case 'flow':
        return round(120 * demand, 2);
      case 'level':
        return round(4 + 1.5 * Math.cos(2 * Math.PI * dayFraction), 2);
      case 'pump_status':
        return 1;
      case 'valve_position':
        return 100;
      case 'totalizer':
        return Math.floor(nowMs / 36_000) % 4_000_000_000;
      default:
        return 0;
    }
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
