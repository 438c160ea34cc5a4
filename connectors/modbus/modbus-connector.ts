// Polls the Modbus devices behind one physical link. Each device (unit) polls its poll groups
// on their intervals; every request goes through the link's one queue. Values are decoded by
// the pure register layout and delivered with quality: a failed read yields bad samples with a
// null value and the failure's code, never the last good value. A unit that stops answering
// skips the rest of its cycle and is retried after a growing delay, so it never stalls the
// other units on the link, nor other links. A merged read refused with exception 02/03 is split
// until the invalid addresses are known; the valid ones keep being read.
import { decodeValue, encodeValue } from '../../src/contracts/modbus-registers.js';
import type { Device, ModbusAddress, ModbusDevice, Tag } from '../../src/contracts/site.js';
import type { Sample } from '../../src/contracts/telemetry.js';
import { CommandError, type Connector, type ConnectorContext, type ConnectorFactory } from '../connector.js';
import { GATEWAY_EXCEPTIONS, ModbusLink, ModbusRequestError } from './modbus-link.js';
import { planAfterException, planRequests, type AddressRange, type PlanLimits, type ReadRequest } from './request-plan.js';

/** source_status of a sample whose read failed without a Modbus exception (timeout, link down, unit backing off). */
export const LINK_FAILURE_STATUS = -1;
const ILLEGAL_DATA_ADDRESS = 0x02;
const ILLEGAL_DATA_VALUE = 0x03;
/** How long an address learned to be invalid is left alone before it is tried again. */
export const INVALID_ADDRESS_RETRY_MS = 10 * 60_000;

interface PollGroupState {
  id: string;
  intervalMs: number;
  /** The group's tags, less those whose address the device refused. */
  tags: Array<Tag & { modbus: ModbusAddress }>;
  requests: ReadRequest[];
  /** Tags whose own address the device refused, with the exception code and when to retry. */
  invalid: Map<string, { tag: Tag & { modbus: ModbusAddress }; code: number; retryAtMs: number }>;
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
}

interface UnitState {
  device: ModbusDevice;
  /** The device's read limits, with the ranges learned not to span. */
  limits: PlanLimits & { avoid: AddressRange[] };
  groups: PollGroupState[];
  online: boolean | undefined;
  failures: number;
  retryAtMs: number;
}

export class ModbusLinkConnector implements Connector {
  readonly name: string;
  readonly devices: readonly string[];
  private readonly link: ModbusLink;
  private readonly units: UnitState[];
  private readonly tagsById: Map<string, { tag: Tag & { modbus: ModbusAddress }; unit: UnitState }>;
  private stopped = false;

  constructor(
    devices: readonly ModbusDevice[],
    private readonly context: ConnectorContext,
  ) {
    const first = devices[0]!;
    this.name = first.endpoint;
    this.devices = devices.map((device) => device.id);
    this.link = new ModbusLink({ endpoint: first.endpoint, settings: first.link, backoff: first.backoff, timeoutMs: Math.max(...devices.map((device) => device.timeout_ms)), clock: context.clock });
    this.tagsById = new Map();
    this.units = devices.map((device) => {
      const limits = { maxRegisters: device.max_registers_per_read, maxBits: device.max_bits_per_read, maxGapRegisters: device.max_gap_registers, addressing: device.addressing, avoid: [] };
      const unit: UnitState = { device, limits, groups: [], online: undefined, failures: 0, retryAtMs: 0 };
      unit.groups = device.poll_groups.map((group) => {
        const tags = context.site.tags.filter((tag): tag is Tag & { modbus: ModbusAddress } => tag.device === device.id && tag.poll_group === group.id && tag.modbus !== undefined);
        return { id: group.id, intervalMs: group.interval_ms, tags, requests: planRequests(tags, limits), invalid: new Map() };
      });
      for (const tag of context.site.tags) {
        if (tag.device === device.id && tag.modbus !== undefined) this.tagsById.set(tag.id, { tag: tag as Tag & { modbus: ModbusAddress }, unit });
      }
      return unit;
    });
    for (const unit of this.units) for (const group of unit.groups) this.reportPlan(unit, group);
    // Telemetry values are numbers: text registers can be written to and decoded, not published.
    for (const { tag } of this.tagsById.values()) {
      if (tag.modbus.type === 'string') context.log.warn({ device: tag.device, tag: tag.id }, 'string tags are not polled: telemetry carries numbers only');
    }
  }

  /** Reads one cycle of each poll group needs now, by device and group. */
  requestsPerCycle(): Record<string, Record<string, number>> {
    return Object.fromEntries(this.units.map((unit) => [unit.device.id, Object.fromEntries(unit.groups.map((group) => [group.id, group.requests.length]))]));
  }

  start(): void {
    for (const unit of this.units) {
      for (const group of unit.groups) {
        if (group.requests.length === 0 && group.invalid.size === 0) continue;
        const tick = () => {
          // A cycle still running when the next is due is skipped rather than queued behind it.
          if (this.stopped || group.running) return;
          group.running = this.pollCycle(unit, group).finally(() => {
            group.running = undefined;
          });
        };
        tick();
        group.timer = setInterval(tick, group.intervalMs);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const groups = this.units.flatMap((unit) => unit.groups);
    for (const group of groups) clearInterval(group.timer);
    await Promise.allSettled(groups.map((group) => group.running));
    await this.link.close();
  }

  private async pollCycle(unit: UnitState, group: PollGroupState): Promise<void> {
    const pollTsMs = this.context.clock();
    const samples: Sample[] = [];
    let unitFailed = pollTsMs < unit.retryAtMs;
    let failureStatus = LINK_FAILURE_STATUS;
    for (const [tagId, invalid] of group.invalid) {
      if (pollTsMs >= invalid.retryAtMs) {
        group.invalid.delete(tagId);
        group.tags.push(invalid.tag);
        group.requests = planRequests(group.tags, unit.limits);
      } else {
        samples.push(bad(invalid.tag.id, pollTsMs, invalid.code));
      }
    }
    const queue = [...group.requests];
    // Ranges learned this cycle are suspicions; once the invalid address itself is found, they are dropped.
    const learned: AddressRange[] = [];
    let foundInvalid = false;
    while (queue.length > 0) {
      const request = queue.shift()!;
      if (unitFailed || this.stopped) {
        samples.push(...request.tags.map((planned) => bad(planned.tag.id, pollTsMs, failureStatus)));
        continue;
      }
      const startedMs = this.context.clock();
      try {
        const words = await this.read(unit.device.unit_id, request);
        this.context.metrics.requestSucceeded(unit.device.id, this.name, this.context.clock() - startedMs, this.context.clock());
        for (const planned of request.tags) {
          const value = decodeValue(words.slice(planned.offset, planned.offset + planned.count), planned.tag.modbus);
          samples.push({ tag: planned.tag.id, value, quality: Number.isFinite(value) ? 'good' : 'bad', source_ts_ms: pollTsMs });
        }
        this.unitAnswered(unit);
      } catch (error) {
        const failure = error instanceof ModbusRequestError ? error : new ModbusRequestError('other', (error as Error).message);
        this.context.metrics.requestFailed(unit.device.id, this.name, failure.kind);
        const code = failure.exceptionCode;
        if (code === ILLEGAL_DATA_ADDRESS || code === ILLEGAL_DATA_VALUE) {
          const { replacement, avoid } = planAfterException(request, unit.limits);
          unit.limits.avoid.push(...avoid);
          learned.push(...avoid);
          if (replacement.length === 0) {
            foundInvalid = true;
            const tag = request.tags[0]!.tag;
            group.tags = group.tags.filter((candidate) => candidate.id !== tag.id);
            group.invalid.set(tag.id, { tag, code, retryAtMs: pollTsMs + INVALID_ADDRESS_RETRY_MS });
            samples.push(bad(tag.id, pollTsMs, code));
            this.context.log.warn({ device: unit.device.id, tag: tag.id, table: tag.modbus.table, address: tag.modbus.address, exceptionCode: code }, 'device refuses this address; tag reported bad');
          } else {
            // The valid part is still read in this cycle.
            queue.unshift(...replacement);
          }
          group.requests = planRequests(group.tags, unit.limits);
          this.reportPlan(unit, group);
          this.unitAnswered(unit);
        } else if (failure.kind === 'exception' && !GATEWAY_EXCEPTIONS.has(code!)) {
          // The unit answered (e.g. 04, device failure): only this read is bad.
          samples.push(...request.tags.map((planned) => bad(planned.tag.id, pollTsMs, code!)));
          this.unitAnswered(unit);
        } else {
          // Timeout, gateway exception or link down: the unit is unreachable; skip the rest of its cycle.
          unitFailed = true;
          failureStatus = code ?? LINK_FAILURE_STATUS;
          samples.push(...request.tags.map((planned) => bad(planned.tag.id, pollTsMs, failureStatus)));
          this.unitFailed(unit, failure);
        }
      }
    }
    if (foundInvalid && learned.length > 0) {
      unit.limits.avoid = unit.limits.avoid.filter((range) => !learned.includes(range));
      group.requests = planRequests(group.tags, unit.limits);
      this.reportPlan(unit, group);
    }
    if (samples.length > 0) this.context.sink.deliver({ device: unit.device.id, pollTsMs, samples });
  }

  async write(tagId: string, value: number): Promise<void> {
    const entry = this.tagsById.get(tagId);
    if (entry === undefined) throw new CommandError('unknown_tag', `tag "${tagId}" is not on ${this.name}`);
    const { tag, unit } = entry;
    const address = tag.modbus.address - unit.device.addressing;
    const unitId = unit.device.unit_id;
    try {
      switch (tag.modbus.table) {
        case 'coil':
          if (unit.device.write_function === 'multiple') await this.link.writeCoils(unitId, address, [value !== 0]);
          else await this.link.writeCoil(unitId, address, value !== 0);
          return;
        case 'holding_register': {
          if (tag.modbus.type === 'bit') {
            // A bit shares its register: read, change the one bit, write back.
            const [word] = await this.link.readHoldingRegisters(unitId, address, 1);
            const mask = 1 << (tag.modbus.bit ?? 0);
            const changed = value !== 0 ? word! | mask : word! & ~mask & 0xffff;
            if (unit.device.write_function === 'multiple') await this.link.writeRegisters(unitId, address, [changed]);
            else await this.link.writeRegister(unitId, address, changed);
            return;
          }
          const words = encodeValue(value, tag.modbus);
          if (words.length === 1 && unit.device.write_function === 'single') await this.link.writeRegister(unitId, address, words[0]!);
          else await this.link.writeRegisters(unitId, address, words);
          return;
        }
        default:
          throw new CommandError('not_writable', `tag "${tagId}" is in the ${tag.modbus.table} table, which is read-only`);
      }
    } catch (error) {
      if (error instanceof CommandError) throw error;
      throw new CommandError('device_failed', `writing ${tagId} on ${unit.device.id} failed: ${(error as Error).message}`, { cause: error });
    }
  }

  private read(unitId: number, request: ReadRequest): Promise<number[]> {
    switch (request.table) {
      case 'coil':
        return this.link.readCoils(unitId, request.start, request.count);
      case 'discrete_input':
        return this.link.readDiscreteInputs(unitId, request.start, request.count);
      case 'holding_register':
        return this.link.readHoldingRegisters(unitId, request.start, request.count);
      case 'input_register':
        return this.link.readInputRegisters(unitId, request.start, request.count);
    }
  }

  private unitAnswered(unit: UnitState): void {
    unit.failures = 0;
    unit.retryAtMs = 0;
    this.setOnline(unit, true);
  }

  private unitFailed(unit: UnitState, failure: ModbusRequestError): void {
    unit.failures += 1;
    // Exponential backoff with jitter across cycles, capped by the device's backoff settings.
    const delayMs = Math.min(unit.device.backoff.initial_ms * 2 ** (unit.failures - 1), unit.device.backoff.max_ms);
    unit.retryAtMs = this.context.clock() + delayMs * (0.5 + Math.random() / 2);
    this.setOnline(unit, false, failure.message);
  }

  private setOnline(unit: UnitState, online: boolean, reason?: string): void {
    if (unit.online === online) return;
    unit.online = online;
    this.context.metrics.deviceOnline(unit.device.id, online);
    if (online) this.context.log.info({ device: unit.device.id, link: this.name }, 'device online');
    else this.context.log.warn({ device: unit.device.id, link: this.name, reason }, 'device offline');
    this.context.sink.deviceState(unit.device.id, online ? 'online' : 'offline', reason);
  }

  private reportPlan(unit: UnitState, group: PollGroupState): void {
    this.context.metrics.requestsPerCycle(unit.device.id, group.id, group.requests.length);
  }
}

function bad(tag: string, pollTsMs: number, status: number): Sample {
  return { tag, value: null, quality: 'bad', source_status: status, source_ts_ms: pollTsMs };
}

/** One connector per physical link: devices with the same endpoint are units behind one gateway. */
export const createModbusConnectors: ConnectorFactory = (devices: readonly Device[], context: ConnectorContext) => {
  const byEndpoint = new Map<string, ModbusDevice[]>();
  for (const device of devices) {
    if (device.protocol !== 'modbus') throw new TypeError(`device ${device.id} is not a Modbus device`);
    byEndpoint.set(device.endpoint, [...(byEndpoint.get(device.endpoint) ?? []), device]);
  }
  return [...byEndpoint.values()].map((linkDevices) => new ModbusLinkConnector(linkDevices, context));
};
