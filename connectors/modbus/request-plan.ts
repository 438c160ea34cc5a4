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

/** Protocol addresses [start, end) of one table; an empty range [b, b) is the boundary between b - 1 and b. */
export interface AddressRange {
  table: ModbusTable;
  start: number;
  end: number;
}

export interface PlanLimits {
  maxRegisters: number;
  maxBits: number;
  maxGapRegisters: number;
  /** 1 when the config counts registers from 1. */
  addressing: 0 | 1;
  /** Ranges a merged read must not span: learned from reads the device refused. */
  avoid?: readonly AddressRange[];
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
        const crossesAvoided = (limits.avoid ?? []).some((range) => range.table === table && range.start < current!.start + mergedCount && current!.start < range.end);
        if (gap <= maxGap && mergedCount <= limit && !crossesAvoided) {
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

/**
 * After a read was answered with exception 02 or 03 (some address in its span does not exist on
 * the device): the ranges later reads must not span, and the reads that replace it now. A read
 * with gaps gives up its gaps; a read without gaps is split in halves; a read of one tag gives
 * up nothing more: that tag's own address is invalid, and `replacement` is empty.
 */
export function planAfterException(request: ReadRequest, limits: PlanLimits): { replacement: ReadRequest[]; avoid: AddressRange[] } {
  const tags = request.tags.map((planned) => planned.tag);
  if (tags.length === 1) return { replacement: [], avoid: [] };
  const avoid: AddressRange[] = [];
  const covered = request.tags.map((planned) => [request.start + planned.offset, request.start + planned.offset + planned.count] as const).sort((a, b) => a[0] - b[0]);
  let reached = request.start;
  for (const [start, end] of covered) {
    if (start > reached) avoid.push({ table: request.table, start: reached, end: start });
    reached = Math.max(reached, end);
  }
  if (avoid.length === 0) {
    // No gap to blame: keep the two halves apart (an empty range: no read may contain both second - 1 and second).
    const second = covered[Math.ceil(covered.length / 2)]![0];
    avoid.push({ table: request.table, start: second, end: second });
  }
  return { replacement: planRequests(tags, { ...limits, avoid: [...(limits.avoid ?? []), ...avoid] }), avoid };
}
