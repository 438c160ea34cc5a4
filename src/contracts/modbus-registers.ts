// The register layout of every Modbus value type the site config can name: how an engineering
// value is packed into 16-bit words (by PLC firmware, and by the simulated PLCs) and unpacked
// (by the connector). Byte orders name the bytes A (most significant) to D as the device sends them.
import type { ByteOrder, ModbusAddress } from './site.js';
/** The value's bytes, most significant first, from words as the device sent them. */
export function canonicalBytes(words: readonly number[], order: ByteOrder): Buffer {
  const wordsInOrder = order === 'CDAB' || order === 'DCBA' ? [...words].reverse() : words;
  const swapBytes = order === 'BADC' || order === 'DCBA';
  const bytes = Buffer.alloc(wordsInOrder.length * 2);
  wordsInOrder.forEach((word, index) => {
    if (swapBytes) bytes.writeUInt16LE(word & 0xffff, index * 2);
    else bytes.writeUInt16BE(word & 0xffff, index * 2);
  });
  return bytes;
}

/** The raw number the registers hold, before scale and offset. */
export function decodeRaw(words: readonly number[], address: Pick<ModbusAddress, 'type' | 'byte_order' | 'bit'>): number {
  const bytes = canonicalBytes(words, address.byte_order);
  switch (address.type) {
    case 'bool':
      return words[0] ? 1 : 0;
    case 'bit':
      return ((words[0] ?? 0) >> (address.bit ?? 0)) & 1;
    case 'int16':
      return bytes.readInt16BE(0);
    case 'uint16':
      return bytes.readUInt16BE(0);
    case 'int32':
      return bytes.readInt32BE(0);
    case 'uint32':
      return bytes.readUInt32BE(0);
    case 'int64':
      return Number(bytes.readBigInt64BE(0));
    case 'uint64':
      return Number(bytes.readBigUInt64BE(0));
    case 'float32':
      return bytes.readFloatBE(0);
    case 'float64':
      return bytes.readDoubleBE(0);
    case 'string':
      throw new RangeError('string registers hold text, not a number: use decodeText');
  }
}

/** The engineering value: raw * scale + offset. Booleans and bits are never scaled. */
export function decodeValue(words: readonly number[], address: ModbusAddress): number {
  const raw = decodeRaw(words, address);
  if (address.type === 'bool' || address.type === 'bit') return raw;
  return raw * address.scale + address.offset;
}

/** ASCII text packed two characters per register, NULs trimmed. */
export function decodeText(words: readonly number[], order: ByteOrder): string {
  const swapBytes = order === 'BADC' || order === 'DCBA';
  const bytes = Buffer.alloc(words.length * 2);
  words.forEach((word, index) => (swapBytes ? bytes.writeUInt16LE(word, index * 2) : bytes.writeUInt16BE(word, index * 2)));
  return bytes.toString('latin1').replace(/\0+$/, '');
}
export function encodeValue(value: number, address: ModbusAddress): number[] {
  if (address.type === 'bool') return [value ? 1 : 0];
  if (address.type === 'bit') throw new RangeError('a bit shares its register with others: use setBit');
  if (address.type === 'string') throw new RangeError('string registers are not encoded from numbers');
  const raw = (value - address.offset) / address.scale;
  const bytes = Buffer.alloc(address.type.endsWith('64') ? 8 : address.type.endsWith('32') ? 4 : 2);
  switch (address.type) {
    case 'int16':
      bytes.writeInt16BE(clampInteger(raw, -0x8000, 0x7fff));
      break;
    case 'uint16':
      bytes.writeUInt16BE(clampInteger(raw, 0, 0xffff));
      break;
    case 'int32':
      bytes.writeInt32BE(clampInteger(raw, -0x80000000, 0x7fffffff));
      break;
    case 'uint32':
      bytes.writeUInt32BE(clampInteger(raw, 0, 0xffffffff));
      break;
    case 'int64':
      bytes.writeBigInt64BE(BigInt(clampInteger(raw, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)));
      break;
    case 'uint64':
      bytes.writeBigUInt64BE(BigInt(clampInteger(raw, 0, Number.MAX_SAFE_INTEGER)));
      break;
    case 'float32':
      bytes.writeFloatBE(raw);
      break;
    case 'float64':
      bytes.writeDoubleBE(raw);
      break;
  }
  return wordsInDeviceOrder(bytes, address.byte_order);
}

/** Sets or clears one bit of a register word. */
export function setBit(word: number, bit: number, on: boolean): number {
  return on ? (word | (1 << bit)) & 0xffff : word & ~(1 << bit) & 0xffff;
}

function wordsInDeviceOrder(bytes: Buffer, order: ByteOrder): number[] {
  const swapBytes = order === 'BADC' || order === 'DCBA';
  const words: number[] = [];
  for (let index = 0; index < bytes.length; index += 2) words.push(swapBytes ? bytes.readUInt16LE(index) : bytes.readUInt16BE(index));
  return order === 'CDAB' || order === 'DCBA' ? words.reverse() : words;
}

function clampInteger(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return 0;
  return Math.min(max, Math.max(min, Math.round(value)));
}
