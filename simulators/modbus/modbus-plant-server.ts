// Simulated PLCs: serves the Modbus devices of the site config that share one endpoint (one PLC,
// or several units behind one gateway) over Modbus TCP, each with the register map the config
// declares and values from the plant. Addresses past a table's data block answer exception 02
// (illegal data address), as a real PLC does; a unit that is offline behind a gateway answers
// 0B (gateway target failed to respond). Writes become plant commands.
import { decodeValue, encodeValue, setBit } from '../../src/contracts/modbus-registers.js';
import { registerCount, type ModbusAddress, type ModbusDevice, type ModbusTable, type Tag } from '../../src/contracts/site.js';
import type { PlantValueSource } from '../plant/plant-source.js';
import { GATEWAY_TARGET_FAILED, ILLEGAL_DATA_ADDRESS, ModbusException, ModbusTcpServer, SERVER_DEVICE_FAILURE, type ModbusRequestHandler } from './modbus-tcp-server.js';

type ModbusTag = Tag & { modbus: ModbusAddress };

interface Slot {
  tag: ModbusTag;
  /** Index of this register (or bit) inside the tag's value. */
  word: number;
}

const illegalAddress = (table: ModbusTable, address: number) => new ModbusException(ILLEGAL_DATA_ADDRESS, `no ${table} ${address}`);
const deviceFailure = (tag: string) => new ModbusException(SERVER_DEVICE_FAILURE, `no value for ${tag}`);

/** One unit's register map over the plant's values. */
export class SimulatedUnit {
  private readonly slots = new Map<ModbusTable, Map<number, Slot[]>>();
  /** Like a PLC's data block, each table spans 0 to its highest mapped address; unmapped words in it read 0. */
  private readonly highestAddress = new Map<ModbusTable, number>();
  offline = false;

  constructor(
    readonly device: ModbusDevice,
    tags: readonly Tag[],
    private readonly source: PlantValueSource,
  ) {
    for (const tag of tags) {
      if (tag.device !== device.id || tag.modbus === undefined) continue;
      const table = this.slots.get(tag.modbus.table) ?? new Map<number, Slot[]>();
      this.slots.set(tag.modbus.table, table);
      const first = tag.modbus.address - device.addressing;
      for (let word = 0; word < registerCount(tag.modbus); word++) {
        table.set(first + word, [...(table.get(first + word) ?? []), { tag: tag as ModbusTag, word }]);
      }
      const last = first + registerCount(tag.modbus) - 1;
      this.highestAddress.set(tag.modbus.table, Math.max(last, this.highestAddress.get(tag.modbus.table) ?? -1));
    }
  }

  /** The words of a register range as the PLC would answer them; throws exception 02 for unmapped addresses. */
  readRegisters(table: ModbusTable, start: number, count: number): number[] {
    const slots = this.slots.get(table);
    const encoded = new Map<string, number[] | null>();
    const words: number[] = [];
    for (let address = start; address < start + count; address++) {
      if (address > (this.highestAddress.get(table) ?? -1)) throw illegalAddress(table, address);
      const here = slots?.get(address) ?? [];
      let word = 0;
      for (const slot of here) {
        if (slot.tag.modbus.type === 'bit') {
          const reading = this.source.read(slot.tag.id);
          if (reading.value === null) throw deviceFailure(slot.tag.id);
          word = setBit(word, slot.tag.modbus.bit ?? 0, reading.value !== 0);
          continue;
        }
        if (!encoded.has(slot.tag.id)) {
          const reading = this.source.read(slot.tag.id);
          encoded.set(slot.tag.id, reading.value === null ? null : encodeValue(reading.value, slot.tag.modbus));
        }
        const tagWords = encoded.get(slot.tag.id);
        if (tagWords === null || tagWords === undefined) throw deviceFailure(slot.tag.id);
        word = tagWords[slot.word] ?? 0;
      }
      words.push(word);
    }
    return words;
  }

  /** Applies a client's write of one or more registers (or bits) as plant commands. */
  writeRegisters(table: ModbusTable, start: number, words: readonly number[]): void {
    const slots = this.slots.get(table);
    const touched = new Map<string, ModbusTag>();
    for (let index = 0; index < words.length; index++) {
      const here = slots?.get(start + index);
      if (here === undefined) throw illegalAddress(table, start + index);
      for (const slot of here) touched.set(slot.tag.id, slot.tag);
    }
    for (const tag of touched.values()) {
      const first = tag.modbus.address - this.device.addressing;
      if (tag.modbus.type === 'bit') {
        const word = words[first - start] ?? 0;
        this.source.write(tag.id, (word >> (tag.modbus.bit ?? 0)) & 1);
        continue;
      }
      // A partial write of a multi-register value combines with the words it leaves unchanged.
      const current = this.readRegisters(table, first, registerCount(tag.modbus));
      const merged = current.map((word, index) => words[first + index - start] ?? word);
      this.source.write(tag.id, decodeValue(merged, tag.modbus));
    }
  }

}

export interface ModbusPlantServerOptions {
  /** The devices at one endpoint, each its own unit id. */
  devices: readonly ModbusDevice[];
  tags: readonly Tag[];
  source: PlantValueSource;
  host?: string;
  /** Overrides the endpoint's port; 0 picks a free one. */
  port?: number;
}

export class ModbusPlantServer {
  private readonly units = new Map<number, SimulatedUnit>();
  private server: ModbusTcpServer | undefined;
  private boundPort = 0;

  constructor(private readonly options: ModbusPlantServerOptions) {
    const endpoints = new Set(options.devices.map((device) => device.endpoint));
    if (endpoints.size !== 1) throw new RangeError(`a simulated PLC serves one endpoint; got ${[...endpoints].join(', ') || 'none'}`);
    for (const device of options.devices) this.units.set(device.unit_id, new SimulatedUnit(device, options.tags, options.source));
  }

  get deviceIds(): string[] {
    return this.options.devices.map((device) => device.id);
  }

  get port(): number {
    return this.boundPort;
  }

  /** The register map of one device served here. */
  unit(deviceId: string): SimulatedUnit {
    const unit = [...this.units.values()].find((candidate) => candidate.device.id === deviceId);
    if (unit === undefined) throw new RangeError(`device "${deviceId}" is not served at ${this.options.devices[0]!.endpoint}`);
    return unit;
  }

  async start(): Promise<void> {
    const endpoint = new URL(this.options.devices[0]!.endpoint);
    const server = new ModbusTcpServer(this.requestHandler());
    // A restart (the PLC coming back online) listens on the port it had.
    const port = this.boundPort || (this.options.port ?? Number(endpoint.port));
    this.boundPort = await server.listen(port, this.options.host ?? endpoint.hostname);
    this.server = server;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
  }

  get listening(): boolean {
    return this.server !== undefined;
  }

  private requestHandler(): ModbusRequestHandler {
    const unitFor = (unitId: number) => {
      const unit = this.units.get(unitId)!;
      if (unit.offline) throw new ModbusException(GATEWAY_TARGET_FAILED, `unit ${unitId} does not answer`);
      return unit;
    };
    return {
      servesUnit: (unitId) => this.units.has(unitId),
      readBits: (table, unitId, start, count) => unitFor(unitId).readRegisters(table, start, count).map((bit) => bit !== 0),
      readRegisters: (table, unitId, start, count) => unitFor(unitId).readRegisters(table, start, count),
      writeBits: (unitId, start, values) => unitFor(unitId).writeRegisters('coil', start, values.map(Number)),
      writeRegisters: (unitId, start, values) => unitFor(unitId).writeRegisters('holding_register', start, values),
    };
  }
}
