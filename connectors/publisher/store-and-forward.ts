// Store and forward: the bounded, ordered buffer that telemetry passes through on its way to the
// broker. The publisher appends every batch, sends from the oldest end and removes an entry only
// once the broker has acknowledged it, so a batch is never held only in a socket or in memory.
//
// Two implementations of one small port (`MessageBuffer`), held to one contract suite
// (test/unit/message-buffer.test.ts):
// - `MemoryMessageBuffer`: a queue in memory; lost with the process.
// - `DiskMessageBuffer`: append-only segment files in a directory; reopening the directory gives
//   back every entry not yet removed, in order.
//
// Full buffer: when an append would take the buffer past `maxBytes` (message bytes, headers not
// counted), the OLDEST entries are dropped until it fits. Recent data is worth more to operators
// than data from the start of a long outage, and the connector must keep polling. Every dropped
// message is counted (tirta_connector_buffer_dropped_total) and each episode of dropping is logged
// once when it starts and once when the buffer drains again. A message larger than `maxBytes`
// on its own is refused with a BufferError.
//
// Disk format: files `<id of first record, 20 digits>.seg`, each a run of records
//   [u32 payload length][u32 CRC-32 of the next 8 + length bytes][u64 id][payload]
// with consecutive ids. A new segment starts when the current one would pass `segmentBytes`; a
// segment is deleted once every record in it is removed, so disk use is at most about
// maxBytes + segmentBytes. The id of the last removed record is kept in the file `removed`.
//
// fsync policy: appends are plain write(2)s, so a crash of the process loses nothing the buffer
// accepted. The tail segment is fdatasync'ed every `fsyncIntervalMs` (default 1 s) when written
// to, when a segment is sealed and on close(); a power cut can lose at most that last interval
// and may leave a torn record. The `removed` pointer is rewritten on the same schedule without
// fsync: after a crash a few already-acknowledged entries may come back and are sent again, which
// the at-least-once pipeline absorbs (ingest de-duplicates on tag and time).
//
// Recovery: opening a directory reads every segment and checks each record's length, CRC and id.
// The first bad record ends the segment: the file is truncated there, the event is counted
// (`truncatedSegments`) and logged, and opening goes on; it never throws for bad data.
import { closeSync, fdatasyncSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync, writeSync, ftruncateSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { TirtaError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import type { ConnectorMetrics } from '../metrics.js';

export interface BufferEntry {
  /** Increases by one per append; only meaningful inside one buffer. */
  id: number;
  message: Buffer;
}

/** An ordered, bounded queue of messages awaiting delivery. */
export interface MessageBuffer {
  /** Adds a message after every other, dropping the oldest first if it would not fit; returns its id. */
  append(message: Buffer | string): number;
  /** Up to `limit` entries, oldest first, of those with an id above `afterId` (all when omitted). */
  peek(limit: number, afterId?: number): BufferEntry[];
  /** Removes every entry with an id up to and including `throughId`: call once they are acknowledged. */
  remove(throughId: number): void;
  /** Entries held. */
  readonly depth: number;
  /** Message bytes held (record headers not counted). */
  readonly bytes: number;
  /** Id of the newest entry ever appended, 0 when none. */
  readonly lastId: number;
  /** Entries dropped because the buffer was full, since it was opened. */
  readonly droppedMessages: number;
  /** Makes what it holds durable (disk) and releases files and timers; idempotent. */
  close(): void;
}

export interface MessageBufferOptions {
  maxBytes: number;
  log: Logger;
  /** Receives depth and dropped counts; absent in unit tests. */
  metrics?: ConnectorMetrics;
}

export interface DiskMessageBufferOptions extends MessageBufferOptions {
  segmentBytes: number;
  /** How often the tail segment is fdatasync'ed while written to. */
  fsyncIntervalMs?: number;
}

export class BufferError extends TirtaError {
  constructor(
    code: 'message_too_large' | 'buffer_closed',
    message: string,
    readonly field?: string,
  ) {
    super(code, message);
  }
}

/** Counts and logs drops at the size limit: one warning per episode, not one per message. */
class Overflow {
  total = 0;
  private episode = 0;

  constructor(private readonly options: MessageBufferOptions) {}

  dropped(count: number, context: { oldestId: number; depth: number }): void {
    this.total += count;
    this.options.metrics?.bufferDroppedMessages(count);
    if (this.episode === 0) {
      this.options.log.warn({ maxBytes: this.options.maxBytes, ...context }, 'store-and-forward buffer full: dropping the oldest messages until it drains');
    }
    this.episode += count;
  }

  /** The buffer is being drained: an episode of dropping, if any, is over. */
  draining(): void {
    if (this.episode === 0) return;
    this.options.log.warn({ droppedMessages: this.episode, droppedTotal: this.total }, 'store-and-forward buffer draining again; messages dropped while it was full');
    this.episode = 0;
  }
}

function toBuffer(message: Buffer | string): Buffer {
  return typeof message === 'string' ? Buffer.from(message) : message;
}

function refuseOversize(size: number, maxBytes: number): void {
  if (size > maxBytes) throw new BufferError('message_too_large', `a ${size}-byte message cannot fit a store-and-forward buffer of ${maxBytes} bytes`, 'buffer.max_bytes');
}

export class MemoryMessageBuffer implements MessageBuffer {
  private readonly entries: BufferEntry[] = [];
  /** Index in `entries` of the oldest entry held; the array is compacted now and then. */
  private head = 0;
  private nextId = 1;
  private heldBytes = 0;
  private readonly overflow: Overflow;

  constructor(private readonly options: MessageBufferOptions) {
    this.overflow = new Overflow(options);
  }

  get depth(): number {
    return this.entries.length - this.head;
  }
  get bytes(): number {
    return this.heldBytes;
  }
  get lastId(): number {
    return this.nextId - 1;
  }
  get droppedMessages(): number {
    return this.overflow.total;
  }

  append(message: Buffer | string): number {
    const bytes = toBuffer(message);
    refuseOversize(bytes.length, this.options.maxBytes);
    let dropped = 0;
    const oldestId = this.entries[this.head]?.id ?? this.nextId;
    while (this.heldBytes + bytes.length > this.options.maxBytes) {
      this.heldBytes -= this.entries[this.head]!.message.length;
      this.head += 1;
      dropped += 1;
    }
    if (dropped > 0) this.overflow.dropped(dropped, { oldestId, depth: this.depth });
    const id = this.nextId++;
    this.entries.push({ id, message: bytes });
    this.heldBytes += bytes.length;
    this.compact();
    this.options.metrics?.bufferDepth(this.depth);
    return id;
  }

  peek(limit: number, afterId = 0): BufferEntry[] {
    const first = this.entries[this.head];
    if (first === undefined) return [];
    // Ids held are consecutive, so the start is found by arithmetic.
    const start = this.head + Math.max(0, afterId + 1 - first.id);
    return this.entries.slice(start, start + Math.max(0, limit));
  }

  remove(throughId: number): void {
    const before = this.head;
    while (this.head < this.entries.length && this.entries[this.head]!.id <= throughId) {
      this.heldBytes -= this.entries[this.head]!.message.length;
      this.head += 1;
    }
    if (this.head === before) return;
    this.overflow.draining();
    this.compact();
    this.options.metrics?.bufferDepth(this.depth);
  }

  close(): void {}

  private compact(): void {
    if (this.head > 1024 && this.head * 2 > this.entries.length) {
      this.entries.splice(0, this.head);
      this.head = 0;
    }
  }
}

const HEADER_BYTES = 16;
const SEGMENT_NAME = /^(\d{20})\.seg$/;
const REMOVED_FILE = 'removed';

interface Segment {
  file: string;
  fd: number;
  firstId: number;
  /** Payload offset and length of each record, by id - firstId. */
  offsets: number[];
  lengths: number[];
  /** Leading records already removed. */
  removed: number;
  fileBytes: number;
}

export class DiskMessageBuffer implements MessageBuffer {
  private readonly segments: Segment[] = [];
  private nextId = 1;
  private removedThroughId = 0;
  private heldBytes = 0;
  private heldEntries = 0;
  private tailDirty = false;
  private pointerDirty = false;
  private closed = false;
  private readonly timer: NodeJS.Timeout;
  private readonly overflow: Overflow;
  /** Segments whose damaged tail was cut off while opening. */
  readonly truncatedSegments: number;

  /** Opens (creating if needed) the buffer in `dir`, recovering what an earlier process left. */
  static open(dir: string, options: DiskMessageBufferOptions): DiskMessageBuffer {
    return new DiskMessageBuffer(dir, options);
  }

  private constructor(
    readonly dir: string,
    private readonly options: DiskMessageBufferOptions,
  ) {
    this.overflow = new Overflow(options);
    mkdirSync(dir, { recursive: true });
    this.truncatedSegments = this.recover();
    this.options.metrics?.bufferDepth(this.heldEntries);
    this.timer = setInterval(() => this.flush(), options.fsyncIntervalMs ?? 1000);
    this.timer.unref();
  }

  get depth(): number {
    return this.heldEntries;
  }
  get bytes(): number {
    return this.heldBytes;
  }
  get lastId(): number {
    return this.nextId - 1;
  }
  get droppedMessages(): number {
    return this.overflow.total;
  }

  append(message: Buffer | string): number {
    if (this.closed) throw new BufferError('buffer_closed', `the store-and-forward buffer in ${this.dir} is closed`);
    const payload = toBuffer(message);
    refuseOversize(payload.length, this.options.maxBytes);
    if (this.heldBytes + payload.length > this.options.maxBytes) {
      const oldestId = this.peekOldestId();
      const depthBefore = this.heldEntries;
      while (this.heldBytes + payload.length > this.options.maxBytes) this.removeOldest();
      this.overflow.dropped(depthBefore - this.heldEntries, { oldestId, depth: this.heldEntries });
    }
    const id = this.nextId;
    const record = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
    record.writeUInt32BE(payload.length, 0);
    record.writeBigUInt64BE(BigInt(id), 8);
    payload.copy(record, HEADER_BYTES);
    record.writeUInt32BE(crc32(record.subarray(8)), 4);
    const tail = this.tailFor(record.length, id);
    writeFully(tail.fd, record, tail.fileBytes);
    tail.offsets.push(tail.fileBytes + HEADER_BYTES);
    tail.lengths.push(payload.length);
    tail.fileBytes += record.length;
    this.nextId += 1;
    this.heldBytes += payload.length;
    this.heldEntries += 1;
    this.tailDirty = true;
    this.options.metrics?.bufferDepth(this.heldEntries);
    return id;
  }

  peek(limit: number, afterId = 0): BufferEntry[] {
    const out: BufferEntry[] = [];
    for (const segment of this.segments) {
      if (out.length >= limit) break;
      const count = segment.offsets.length;
      const start = Math.max(segment.removed, afterId + 1 - segment.firstId);
      if (start >= count) continue;
      const end = Math.min(count, start + (limit - out.length));
      // One read for the run of records, then slices of it.
      const from = segment.offsets[start]!;
      const to = segment.offsets[end - 1]! + segment.lengths[end - 1]!;
      const run = Buffer.allocUnsafe(to - from);
      readFully(segment.fd, run, from);
      for (let index = start; index < end; index += 1) {
        const at = segment.offsets[index]! - from;
        out.push({ id: segment.firstId + index, message: run.subarray(at, at + segment.lengths[index]!) });
      }
    }
    return out;
  }

  remove(throughId: number): void {
    const before = this.heldEntries;
    this.removeThrough(throughId);
    if (this.heldEntries !== before) this.overflow.draining();
    this.options.metrics?.bufferDepth(this.heldEntries);
  }

  /** Syncs the tail segment and records the removal pointer; runs on a timer and on close. */
  flush(): void {
    if (this.closed) return;
    const tail = this.segments.at(-1);
    if (this.tailDirty && tail !== undefined) fdatasyncSync(tail.fd);
    this.tailDirty = false;
    if (this.pointerDirty) {
      const temporary = path.join(this.dir, `${REMOVED_FILE}.tmp`);
      writeFileSync(temporary, String(this.removedThroughId));
      renameSync(temporary, path.join(this.dir, REMOVED_FILE));
      this.pointerDirty = false;
    }
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    this.flush();
    this.closed = true;
    for (const segment of this.segments) closeSync(segment.fd);
  }

  private peekOldestId(): number {
    const segment = this.segments.find((candidate) => candidate.removed < candidate.offsets.length);
    return segment === undefined ? this.nextId : segment.firstId + segment.removed;
  }

  private removeOldest(): void {
    this.removeThrough(this.peekOldestId());
  }

  private removeThrough(throughId: number): void {
    const last = Math.min(throughId, this.nextId - 1);
    if (last <= this.removedThroughId) return;
    while (this.segments.length > 0) {
      const segment = this.segments[0]!;
      const count = segment.offsets.length;
      const upTo = Math.min(count, Math.max(segment.removed, last - segment.firstId + 1));
      for (let index = segment.removed; index < upTo; index += 1) this.heldBytes -= segment.lengths[index]!;
      this.heldEntries -= upTo - segment.removed;
      segment.removed = upTo;
      // The tail stays open for appends even when every record in it is removed.
      if (segment.removed < count || this.segments.length === 1) break;
      closeSync(segment.fd);
      unlinkSync(segment.file);
      this.segments.shift();
    }
    this.removedThroughId = last;
    this.pointerDirty = true;
  }

  /** The segment to write a record of `size` bytes to: the tail, or a new one when it is full. */
  private tailFor(size: number, id: number): Segment {
    const tail = this.segments.at(-1);
    if (tail !== undefined && (tail.fileBytes + size <= this.options.segmentBytes || tail.offsets.length === 0)) return tail;
    if (tail !== undefined) {
      // A sealed segment is never written again: make it durable now.
      fdatasyncSync(tail.fd);
      this.tailDirty = false;
      if (tail.removed === tail.offsets.length) {
        closeSync(tail.fd);
        unlinkSync(tail.file);
        this.segments.pop();
      }
    }
    const file = path.join(this.dir, `${String(id).padStart(20, '0')}.seg`);
    const segment: Segment = { file, fd: openSync(file, 'w+'), firstId: id, offsets: [], lengths: [], removed: 0, fileBytes: 0 };
    this.segments.push(segment);
    return segment;
  }

  /** Loads every segment, cutting off damaged tails; returns how many were cut. */
  private recover(): number {
    try {
      this.removedThroughId = Number.parseInt(readFileSync(path.join(this.dir, REMOVED_FILE), 'utf8'), 10) || 0;
    } catch {
      this.removedThroughId = 0; // a new buffer
    }
    let truncated = 0;
    const names = readdirSync(this.dir)
      .filter((name) => SEGMENT_NAME.test(name))
      .sort();
    for (const name of names) {
      const file = path.join(this.dir, name);
      const firstId = Number(SEGMENT_NAME.exec(name)![1]);
      const content = readFileSync(file);
      const segment: Segment = { file, fd: -1, firstId, offsets: [], lengths: [], removed: 0, fileBytes: 0 };
      let offset = 0;
      while (offset + HEADER_BYTES <= content.length) {
        const length = content.readUInt32BE(offset);
        const end = offset + HEADER_BYTES + length;
        if (end > content.length) break;
        if (content.readUInt32BE(offset + 4) !== crc32(content.subarray(offset + 8, end))) break;
        if (Number(content.readBigUInt64BE(offset + 8)) !== firstId + segment.offsets.length) break;
        segment.offsets.push(offset + HEADER_BYTES);
        segment.lengths.push(length);
        offset = end;
      }
      if (offset < content.length) {
        truncated += 1;
        this.options.log.warn(
          { file, validBytes: offset, discardedBytes: content.length - offset, records: segment.offsets.length },
          'store-and-forward segment ends in a damaged record (torn write or corruption): truncated after the last good record',
        );
      }
      segment.fileBytes = offset;
      const lastId = firstId + segment.offsets.length - 1;
      if (segment.offsets.length === 0 || lastId <= this.removedThroughId) {
        unlinkSync(file);
        this.nextId = Math.max(this.nextId, lastId + 1);
        continue;
      }
      segment.fd = openSync(file, 'r+');
      if (offset < content.length) ftruncateSync(segment.fd, offset);
      segment.removed = Math.max(0, Math.min(segment.offsets.length, this.removedThroughId - firstId + 1));
      for (let index = segment.removed; index < segment.offsets.length; index += 1) this.heldBytes += segment.lengths[index]!;
      this.heldEntries += segment.offsets.length - segment.removed;
      this.segments.push(segment);
      this.nextId = Math.max(this.nextId, lastId + 1);
    }
    this.nextId = Math.max(this.nextId, this.removedThroughId + 1);
    if (truncated > 0 || this.heldEntries > 0) {
      this.options.log.info({ dir: this.dir, entries: this.heldEntries, bytes: this.heldBytes, truncatedSegments: truncated }, 'store-and-forward buffer reopened');
    }
    return truncated;
  }
}

function writeFully(fd: number, data: Buffer, position: number): void {
  let written = 0;
  while (written < data.length) written += writeSync(fd, data, written, data.length - written, position + written);
}

function readFully(fd: number, into: Buffer, position: number): void {
  let read = 0;
  while (read < into.length) {
    const got = readSync(fd, into, read, into.length - read, position + read);
    if (got === 0) throw new Error(`store-and-forward segment ended early at ${position + read}`);
    read += got;
  }
}
