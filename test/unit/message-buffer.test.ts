// The store-and-forward buffer's contract, one suite run against each implementation (as
// MQTT.js's abstract_store and Telegraf's buffer_suite do), then the disk buffer's own cases:
// surviving a process restart and cutting off a torn last record.
import { execFileSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { ConnectorMetrics } from '../../connectors/metrics.js';
import { BufferError, DiskMessageBuffer, MemoryMessageBuffer, type MessageBuffer } from '../../connectors/publisher/store-and-forward.js';
import { silentLogger } from '../../src/log.js';

interface BufferOptions {
  maxBytes?: number;
  segmentBytes?: number;
  metrics?: ConnectorMetrics;
}

interface Implementation {
  name: string;
  /** Whether reopening gives back what was not removed. */
  durable: boolean;
  /** Opens the buffer; within one test, opening again reopens the same one. */
  open(options?: BufferOptions): MessageBuffer;
}

const storeAndForwardModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../connectors/publisher/store-and-forward.ts');
const texts = (buffer: MessageBuffer, limit = 1000, afterId?: number) => buffer.peek(limit, afterId).map((entry) => entry.message.toString());
const message = (n: number) => `message-${String(n).padStart(2, '0')}`; // 10 bytes each

function contractSuite(implementation: () => Implementation & { cleanup(): void }) {
  let subject: Implementation & { cleanup(): void };
  let opened: MessageBuffer[];
  const open = (options?: BufferOptions) => {
    const buffer = subject.open(options);
    opened.push(buffer);
    return buffer;
  };
  beforeEach(() => {
    subject = implementation();
    opened = [];
  });
  afterEach(() => {
    for (const buffer of opened) buffer.close();
    subject.cleanup();
  });

  it('gives entries back in append order with increasing ids', () => {
    const buffer = open();
    const ids = [1, 2, 3, 4, 5].map((n) => buffer.append(message(n)));
    expect(ids).to.deep.equal([...ids].sort((a, b) => a - b));
    expect(new Set(ids).size).to.equal(5);
    expect(texts(buffer)).to.deep.equal([1, 2, 3, 4, 5].map(message));
    expect(texts(buffer, 2)).to.deep.equal([message(1), message(2)]);
    expect(texts(buffer, 2, ids[1])).to.deep.equal([message(3), message(4)]);
    expect(buffer.peek(10, ids[4])).to.deep.equal([]);
    expect(buffer.lastId).to.equal(ids[4]);
  });

  it('tracks depth and bytes through appends and removals', () => {
    const buffer = open();
    expect([buffer.depth, buffer.bytes]).to.deep.equal([0, 0]);
    const ids = [1, 2, 3].map((n) => buffer.append(Buffer.from(message(n))));
    expect([buffer.depth, buffer.bytes]).to.deep.equal([3, 30]);
    buffer.remove(ids[0]!);
    expect([buffer.depth, buffer.bytes]).to.deep.equal([2, 20]);
  });

  it('removes entries only up to the acknowledged id, and ignores repeated or early acknowledgements', () => {
    const buffer = open();
    const ids = [1, 2, 3, 4, 5].map((n) => buffer.append(message(n)));
    buffer.remove(ids[2]!);
    expect(texts(buffer)).to.deep.equal([message(4), message(5)]);
    buffer.remove(ids[1]!);
    buffer.remove(0);
    expect(texts(buffer)).to.deep.equal([message(4), message(5)]);
    expect(texts(buffer, 10, ids[0])).to.deep.equal([message(4), message(5)]);
    buffer.remove(ids[4]! + 100);
    expect([buffer.depth, buffer.bytes, texts(buffer).length]).to.deep.equal([0, 0, 0]);
    const later = buffer.append(message(6));
    expect(later).to.be.greaterThan(ids[4]!);
    expect(texts(buffer)).to.deep.equal([message(6)]);
  });

  it('at the size limit drops the oldest entries, counts them and keeps the rest in order', async () => {
    const metrics = new ConnectorMetrics();
    const buffer = open({ maxBytes: 100, segmentBytes: 64, metrics });
    for (let n = 1; n <= 15; n += 1) buffer.append(message(n));
    expect(texts(buffer)).to.deep.equal([6, 7, 8, 9, 10, 11, 12, 13, 14, 15].map(message));
    expect([buffer.depth, buffer.bytes, buffer.droppedMessages]).to.deep.equal([10, 100, 5]);
    const exposition = await metrics.render();
    expect(exposition).to.match(/^tirta_connector_buffer_dropped_total 5$/m);
    expect(exposition).to.match(/^tirta_connector_buffer_depth_messages 10$/m);
  });

  it('drops as many old entries as a larger message needs', () => {
    const buffer = open({ maxBytes: 100, segmentBytes: 64 });
    for (let n = 1; n <= 10; n += 1) buffer.append(message(n));
    buffer.append('x'.repeat(35));
    expect(texts(buffer)).to.deep.equal([...[5, 6, 7, 8, 9, 10].map(message), 'x'.repeat(35)]);
    expect(buffer.droppedMessages).to.equal(4);
  });

  it('refuses a message larger than the whole buffer and keeps what it holds', () => {
    const buffer = open({ maxBytes: 100, segmentBytes: 64 });
    buffer.append(message(1));
    expect(() => buffer.append('x'.repeat(101))).to.throw(BufferError).with.property('code', 'message_too_large');
    expect([texts(buffer), buffer.droppedMessages]).to.deep.equal([[message(1)], 0]);
  });

  it('after reopening never gives back a removed entry, and a durable buffer gives back every other in order', () => {
    const first = open({ segmentBytes: 64 });
    const ids = [1, 2, 3, 4, 5, 6, 7].map((n) => first.append(message(n)));
    first.remove(ids[2]!);
    first.close();
    const reopened = open({ segmentBytes: 64 });
    const kept = subject.durable ? [4, 5, 6, 7].map(message) : [];
    expect(texts(reopened)).to.deep.equal(kept);
    expect(reopened.depth).to.equal(kept.length);
    expect(reopened.bytes).to.equal(kept.length * 10);
    const next = reopened.append(message(8));
    if (subject.durable) expect(next).to.be.greaterThan(ids[6]!);
    expect(texts(reopened).at(-1)).to.equal(message(8));
  });
}

describe('store-and-forward buffer', () => {
  describe('contract: memory buffer', () =>
    contractSuite(() => ({
      name: 'memory',
      durable: false,
      open: (options) => new MemoryMessageBuffer({ maxBytes: options?.maxBytes ?? 1 << 20, log: silentLogger, metrics: options?.metrics }),
      cleanup: () => undefined,
    })));

  describe('contract: disk buffer', () => {
    contractSuite(() => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'tirta-buffer-'));
      return {
        name: 'disk',
        durable: true,
        open: (options) => DiskMessageBuffer.open(dir, { maxBytes: options?.maxBytes ?? 1 << 20, segmentBytes: options?.segmentBytes ?? 4096, log: silentLogger, metrics: options?.metrics }),
        cleanup: () => rmSync(dir, { recursive: true, force: true }),
      };
    });
  });

  describe('disk buffer', () => {
    let dir: string;
    const open = (segmentBytes = 4096) => DiskMessageBuffer.open(dir, { maxBytes: 1 << 20, segmentBytes, log: silentLogger });
    const segmentFiles = () => readdirSync(dir).filter((name) => name.endsWith('.seg')).sort();
    beforeEach(() => {
      dir = mkdtempSync(path.join(os.tmpdir(), 'tirta-buffer-'));
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('gives back every entry after the process that wrote them exits without closing', () => {
      // A separate process appends, acknowledges some and exits at once: no close(), no fsync.
      const script = `
        import { DiskMessageBuffer } from ${JSON.stringify(storeAndForwardModule)};
        const buffer = DiskMessageBuffer.open(${JSON.stringify(dir)}, { maxBytes: 1 << 20, segmentBytes: 256, log: { warn() {}, info() {} } });
        const ids = [];
        for (let n = 0; n < 200; n += 1) ids.push(buffer.append('batch-' + n));
        buffer.remove(ids[49]);
        buffer.flush();
        process.exit(0);
      `;
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: 'pipe' });
      const buffer = open(256);
      try {
        expect(texts(buffer)).to.deep.equal(Array.from({ length: 150 }, (_, index) => `batch-${index + 50}`));
        expect(buffer.truncatedSegments).to.equal(0);
      } finally {
        buffer.close();
      }
    });

    it('a stale removal pointer after a crash gives entries back again rather than losing any', () => {
      const buffer = open();
      const ids = [1, 2, 3].map((n) => buffer.append(message(n)));
      buffer.flush();
      buffer.remove(ids[0]!); // not flushed: as if the process died here
      const crashed = open();
      try {
        expect(texts(crashed)).to.deep.equal([1, 2, 3].map(message));
      } finally {
        crashed.close();
        buffer.close();
      }
    });

    it('cuts off a torn last record, counts it, and appends after the last good one', () => {
      const buffer = open();
      [1, 2, 3].map((n) => buffer.append(message(n)));
      buffer.close();
      const [file] = segmentFiles();
      const full = statSync(path.join(dir, file!)).size;
      truncateSync(path.join(dir, file!), full - 4); // the last write stopped half way
      const reopened = open();
      expect(reopened.truncatedSegments).to.equal(1);
      expect(texts(reopened)).to.deep.equal([message(1), message(2)]);
      reopened.append(message(4));
      reopened.close();
      const again = open();
      try {
        expect(again.truncatedSegments).to.equal(0);
        expect(texts(again)).to.deep.equal([message(1), message(2), message(4)]);
      } finally {
        again.close();
      }
    });

    it('cuts off a record whose CRC does not match, and garbage after the last record', () => {
      const buffer = open();
      [1, 2, 3].map((n) => buffer.append(message(n)));
      buffer.close();
      const file = path.join(dir, segmentFiles()[0]!);
      const bytes = readFileSync(file);
      bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 0xff, bytes.length - 1); // flipped bits in the last payload
      writeFileSync(file, bytes);
      let reopened = open();
      expect([reopened.truncatedSegments, texts(reopened)]).to.deep.equal([1, [message(1), message(2)]]);
      reopened.close();
      appendFileSync(file, Buffer.from([0, 0, 0, 9, 1, 2]));
      reopened = open();
      try {
        expect([reopened.truncatedSegments, texts(reopened)]).to.deep.equal([1, [message(1), message(2)]]);
      } finally {
        reopened.close();
      }
    });

    it('spreads entries over segments and deletes a segment once all of it is removed', () => {
      const buffer = open(128); // 4 records of 26 bytes per segment
      const ids = Array.from({ length: 20 }, (_, n) => buffer.append(message(n)));
      expect(segmentFiles()).to.have.length(5);
      buffer.remove(ids[9]!);
      expect(segmentFiles()).to.have.length(3);
      expect(texts(buffer)).to.deep.equal(Array.from({ length: 10 }, (_, n) => message(n + 10)));
      buffer.remove(ids[19]!);
      expect(segmentFiles()).to.have.length(1);
      buffer.close();
      const reopened = open(128);
      try {
        expect(reopened.depth).to.equal(0);
        expect(reopened.append(message(20))).to.be.greaterThan(ids[19]!);
      } finally {
        reopened.close();
      }
    });
  });
});
