// OPC UA values to telemetry samples (pure): the StatusCode's severity decides the quality, the
// StatusCode itself travels as source_status, and the server's source timestamp is the sample's
// time. A Bad value never carries a number, so no stale value looks current downstream.
import type { Quality, Sample } from '../../src/contracts/telemetry.js';

/** StatusCode values the connector itself stamps on samples (OPC UA Part 4, 7.39 / Part 6, A.2). */
export const statusCodes = {
  good: 0x0000_0000,
  /** No session: the server is unreachable or the connection was lost. */
  badNotConnected: 0x808a_0000,
  /** A request failed without a status of its own. */
  badCommunicationError: 0x8005_0000,
  badTimeout: 0x800a_0000,
  /** A `nsu=` node id whose namespace the server does not have. */
  badNodeIdUnknown: 0x8034_0000,
  /** The server answered Good with something that is not a number. */
  badTypeMismatch: 0x8074_0000,
} as const;

/** Severity is the top two bits: 00 Good, 01 Uncertain, 10 (and the reserved 11) Bad. */
export function qualityOf(statusCode: number): Quality {
  const severity = (statusCode >>> 30) & 0b11;
  if (severity === 0) return 'good';
  if (severity === 1) return 'uncertain';
  return 'bad';
}

/** What the shell takes out of a node-opcua DataValue. */
export interface ReceivedValue {
  value: unknown;
  statusCode: number;
  /** The server's source timestamp, when it sent one. */
  sourceTimestampMs: number | undefined;
}

/**
 * The sample of one received value. Numbers and booleans are taken as they are; anything else
 * (strings, arrays, 64-bit integers as [high, low]) is a configuration mistake and arrives bad.
 */
export function sampleFrom(tagId: string, received: ReceivedValue, receivedAtMs: number): Sample {
  const source_ts_ms = received.sourceTimestampMs !== undefined && received.sourceTimestampMs > 0 ? received.sourceTimestampMs : receivedAtMs;
  const quality = qualityOf(received.statusCode);
  if (quality === 'bad') return { tag: tagId, value: null, quality, source_status: received.statusCode, source_ts_ms };
  const value = numericValue(received.value);
  if (value === undefined) return { tag: tagId, value: null, quality: 'bad', source_status: statusCodes.badTypeMismatch, source_ts_ms };
  return { tag: tagId, value, quality, source_status: received.statusCode, source_ts_ms };
}

/** Bad samples for tags that could not be read, stamped with the time of the failure. */
export function badSamples(tagIds: readonly string[], statusCode: number, atMs: number): Sample[] {
  return tagIds.map((tag) => ({ tag, value: null, quality: 'bad', source_status: statusCode, source_ts_ms: atMs }));
}

function numericValue(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return undefined;
}
