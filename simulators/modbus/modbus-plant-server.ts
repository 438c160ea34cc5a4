// A simulated PLC: serves one Modbus device of the site config over Modbus TCP, with the
// register map the config declares and values from the plant. Addresses past a table's data
// block answer exception 02 (illegal data address), as a real PLC does. Writes become plant
// commands.
import type { AddressInfo, Server } from 'node:net';
import { ServerTCP } from 'modbus-serial';
import { decodeValue, encodeValue, setBit } from '../../src/contracts/modbus-registers.js';
import { registerCount, type ModbusAddress, type ModbusDevice, type ModbusTable, type Tag } from '../../src/contracts/site.js';
import type { PlantValueSource } from '../plant/plant-source.js';

type ModbusTag = Tag & { modbus: ModbusAddress };

interface Slot {
  tag: ModbusTag;
  /** Index of this register (or bit) inside the tag's value. */
  word: number;
}

const ILLEGAL_DATA_ADDRESS = { modbusErrorCode: 0x02, msg: 'Illegal data address' };
const SERVER_DEVICE_FAILURE = { modbusErrorCode: 0x04, msg: 'Server device failure' };

export interface ModbusPlantServerOptions {
  device: ModbusDevice;
  tags: readonly Tag[];
  source: PlantValueSource;
  host?: string;
  /** Overrides the endpoint's port; 0 picks a free one. */
  port?: number;
}

export class ModbusPlantServer {
  private readonly slots = new Map<ModbusTable, Map<number, Slot[]>>();
  /** Like a PLC's data block, each table spans 0 to its highest mapped address; unmapped words in it read 0. */
  private readonly highestAddress = new Map<ModbusTable, number>();
  private server: ServerTCP | undefined;
  private boundPort = 0;

  constructor(private readonly options: ModbusPlantServerOptions) {
    for (const tag of options.tags) {
      if (tag.device !== options.device.id || tag.modbus === undefined) continue;
      const table = this.slots.get(tag.modbus.table) ?? new Map<number, Slot[]>();
      this.slots.set(tag.modbus.table, table);
      const first = tag.modbus.address - options.device.addressing;
      for (let word = 0; word < registerCount(tag.modbus); word++) {
        table.set(first + word, [...(table.get(first + word) ?? []), { tag: tag as ModbusTag, word }]);
      }
      const last = first + registerCount(tag.modbus) - 1;
      this.highestAddress.set(tag.modbus.table, Math.max(last, this.highestAddress.get(tag.modbus.table) ?? -1));
    }
  }

  get deviceId(): string {
    return this.options.device.id;
  }

  get port(): number {
    return this.boundPort;
  }

  async start(): Promise<void> {
    const endpoint = new URL(this.options.device.endpoint);
    const host = this.options.host ?? endpoint.hostname;
    const port = this.options.port ?? Number(endpoint.port);
    const server = new ServerTCP(this.vector(), { host, port, unitID: this.options.device.unit_id });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('initialized', () => resolve());
      server.once('serverError', (error) => reject(error ?? new Error(`cannot listen on ${host}:${port}`)));
    });
    const net = (server as unknown as { _server: Server })._server;
    this.boundPort = (net.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    this.server = undefined;
    for (const socket of server.socks.keys()) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The words of a register range as the PLC would answer them; throws exception 02 for unmapped addresses. */
  readRegisters(table: ModbusTable, start: number, count: number): number[] {
    const slots = this.slots.get(table);
    const encoded = new Map<string, number[] | null>();
    const words: number[] = [];
    for (let address = start; address < start + count; address++) {
      if (address > (this.highestAddress.get(table) ?? -1)) throw ILLEGAL_DATA_ADDRESS;
      const here = slots?.get(address) ?? [];
      let word = 0;
      for (const slot of here) {
        if (slot.tag.modbus.type === 'bit') {
          const reading = this.options.source.read(slot.tag.id);
          if (reading.value === null) throw SERVER_DEVICE_FAILURE;
          word = setBit(word, slot.tag.modbus.bit ?? 0, reading.value !== 0);
          continue;
        }
        if (!encoded.has(slot.tag.id)) {
          const reading = this.options.source.read(slot.tag.id);
          encoded.set(slot.tag.id, reading.value === null ? null : encodeValue(reading.value, slot.tag.modbus));
        }
        const tagWords = encoded.get(slot.tag.id);
        if (tagWords === null || tagWords === undefined) throw SERVER_DEVICE_FAILURE;
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
      if (here === undefined) throw ILLEGAL_DATA_ADDRESS;
      for (const slot of here) touched.set(slot.tag.id, slot.tag);
    }
    for (const tag of touched.values()) {
      const first = tag.modbus.address - this.options.device.addressing;
      if (tag.modbus.type === 'bit') {
        const word = words[first - start] ?? 0;
        this.options.source.write(tag.id, (word >> (tag.modbus.bit ?? 0)) & 1);
        continue;
      }
      // A partial write of a multi-register value combines with the words it leaves unchanged.
      const current = this.readRegisters(table, first, registerCount(tag.modbus));
      const merged = current.map((word, index) => words[first + index - start] ?? word);
      this.options.source.write(tag.id, decodeValue(merged, tag.modbus));
    }
  }

  private vector() {
    return {
      getCoil: (address: number) => this.readRegisters('coil', address, 1)[0] === 1,
      getDiscreteInput: (address: number) => this.readRegisters('discrete_input', address, 1)[0] === 1,
      getHoldingRegister: (address: number) => this.readRegisters('holding_register', address, 1)[0]!,
      getInputRegister: (address: number) => this.readRegisters('input_register', address, 1)[0]!,
      getMultipleHoldingRegisters: (address: number, length: number) => this.readRegisters('holding_register', address, length),
      getMultipleInputRegisters: (address: number, length: number) => this.readRegisters('input_register', address, length),
      setCoil: (address: number, value: boolean) => this.writeRegisters('coil', address, [value ? 1 : 0]),
      setRegister: (address: number, value: number) => this.writeRegisters('holding_register', address, [value]),
      setRegisterArray: (address: number, values: number[]) => this.writeRegisters('holding_register', address, values),
    };
  }
}
