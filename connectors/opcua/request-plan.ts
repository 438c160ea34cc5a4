// The OPC UA request planner (pure): which monitored items go into which CreateMonitoredItems
// call, with what sampling interval, queue and deadband; and how a poll group's reads are cut
// to the server's operation limits. The connector only sends what this plans.
import type { Tag } from '../../src/contracts/site.js';

/** Nodes per Read when the server publishes no limit (0) or cannot be asked: small enough for any server seen in the field. */
export const DEFAULT_MAX_NODES_PER_READ = 500;
/** Items queued per monitored item are capped: a slow publisher should not make the server hoard samples. */
export const MAX_QUEUE_SIZE = 100;

/** The server-side filter a tag's deadband asks for. */
export type DeadbandRequest = { type: 'none' } | { type: 'absolute'; value: number } | { type: 'percent'; value: number };

export function deadbandOf(tag: Pick<Tag, 'deadband'>): DeadbandRequest {
  const deadband = tag.deadband;
  if (deadband === undefined) return { type: 'none' };
  if ('absolute' in deadband) return deadband.absolute > 0 ? { type: 'absolute', value: deadband.absolute } : { type: 'none' };
  return deadband.percent > 0 ? { type: 'percent', value: deadband.percent } : { type: 'none' };
}

/** A tag ready to ask for: its node id resolved for the current session. */
export interface PlannedTag {
  tagId: string;
  nodeId: string;
  samplingIntervalMs: number;
  deadband: DeadbandRequest;
}

/** One CreateMonitoredItems call: node-opcua gives every item of a call the same parameters. */
export interface MonitoredItemBatch {
  samplingIntervalMs: number;
  /** Enough to hold every sample of one publishing interval, so changes between publishes are not lost. */
  queueSize: number;
  deadband: DeadbandRequest;
  tags: PlannedTag[];
}

export function queueSizeFor(samplingIntervalMs: number, publishingIntervalMs: number): number {
  if (samplingIntervalMs <= 0) return MAX_QUEUE_SIZE;
  return Math.min(MAX_QUEUE_SIZE, Math.max(1, Math.ceil(publishingIntervalMs / samplingIntervalMs)));
}

/**
 * Tags with the same sampling interval and deadband share calls of at most `itemsPerCall` items,
 * in the order they were configured.
 */
export function planMonitoredItems(tags: readonly PlannedTag[], settings: { itemsPerCall: number; publishingIntervalMs: number }): MonitoredItemBatch[] {
  const classes = new Map<string, PlannedTag[]>();
  for (const tag of tags) {
    const key = JSON.stringify([tag.samplingIntervalMs, tag.deadband]);
    classes.set(key, [...(classes.get(key) ?? []), tag]);
  }
  return [...classes.values()].flatMap((members) =>
    chunk(members, settings.itemsPerCall).map((part) => ({
      samplingIntervalMs: members[0]!.samplingIntervalMs,
      queueSize: queueSizeFor(members[0]!.samplingIntervalMs, settings.publishingIntervalMs),
      deadband: members[0]!.deadband,
      tags: part,
    })),
  );
}

/**
 * The per-call limit to use: the configured one, lowered to the server's when the server has one
 * (OPC UA publishes 0 for "no limit"); the fallback when neither says.
 */
export function effectiveLimit(configured: number | undefined, serverLimit: number | undefined, fallback: number): number {
  const server = serverLimit !== undefined && Number.isInteger(serverLimit) && serverLimit > 0 ? serverLimit : undefined;
  if (configured !== undefined && server !== undefined) return Math.min(configured, server);
  return configured ?? server ?? fallback;
}

/** A poll group's Read calls: its tags in configured order, at most `maxNodesPerRead` per call. */
export function planReads<T>(tags: readonly T[], maxNodesPerRead: number): T[][] {
  return chunk(tags, maxNodesPerRead);
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const step = Math.max(1, Math.floor(size));
  const parts: T[][] = [];
  for (let start = 0; start < items.length; start += step) parts.push(items.slice(start, start + step));
  return parts;
}
