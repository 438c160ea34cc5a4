// The request planner: turns a poll group's tags into the fewest Modbus reads within the
// device's limits, spanning small gaps of unrequested registers when that saves a request.
import { registerCount, type ModbusAddress, type ModbusTable, type Tag } from '../../src/contracts/site.js';

export interface PlannedTag {
  tag: Tag & { modbus: ModbusAddress };
  /** Offset of the tag's first register (or bit) inside the read. */
  offset: number;
  count: number;
}

export interface ReadRequest {
  table: ModbusTable;
  /** Protocol (0-based) address of the first register or bit. */
  start: number;
  count: number;
  tags: PlannedTag[];
}

export interface PlanLimits {
  maxRegisters: number;
  maxBits: number;
  maxGapRegisters: number;
  /** 1 when the config counts registers from 1. */
  addressing: 0 | 1;
}

const isBitTable = (table: ModbusTable) => table === 'coil' || table === 'discrete_input';

export function planRequests(tags: ReadonlyArray<Tag>, limits: PlanLimits): ReadRequest[] {
  const requests: ReadRequest[] = [];
  const byTable = new Map<ModbusTable, Array<{ tag: Tag & { modbus: ModbusAddress }; start: number; count: number }>>();
  for (const tag of tags) {
    if (tag.modbus === undefined || tag.modbus.type === 'string') continue;
    const entry = { tag: tag as Tag & { modbus: ModbusAddress }, start: tag.modbus.address - limits.addressing, count: registerCount(tag.modbus) };
    byTable.set(tag.modbus.table, [...(byTable.get(tag.modbus.table) ?? []), entry]);
  }
  for (const [table, entries] of [...byTable].sort(([a], [b]) => a.localeCompare(b))) {
    const limit = isBitTable(table) ? limits.maxBits : limits.maxRegisters;
    const maxGap = isBitTable(table) ? limits.maxGapRegisters * 16 : limits.maxGapRegisters;
    entries.sort((a, b) => a.start - b.start || b.count - a.count);
    let current: ReadRequest | undefined;
    for (const entry of entries) {
      const end = entry.start + entry.count;
      if (current !== undefined) {
        const currentEnd = current.start + current.count;
        const gap = entry.start - currentEnd;
        const mergedCount = Math.max(currentEnd, end) - current.start;
        if (gap <= maxGap && mergedCount <= limit) {
          current.count = mergedCount;
          current.tags.push({ tag: entry.tag, offset: entry.start - current.start, count: entry.count });
          continue;
        }
      }
      current = { table, start: entry.start, count: entry.count, tags: [{ tag: entry.tag, offset: 0, count: entry.count }] };
      requests.push(current);
    }
  }
  return requests;
}
