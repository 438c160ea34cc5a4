// Request and response frames of the simulated PLCs' Modbus TCP server, byte for byte.
import { expect } from 'chai';
import { ILLEGAL_DATA_ADDRESS, ModbusException, ModbusTcpServer, type ModbusRequestHandler } from '../../simulators/modbus/modbus-tcp-server.js';

function memoryHandler(): ModbusRequestHandler & { registers: number[]; coils: boolean[] } {
  const registers = Array.from({ length: 10 }, (_, index) => index * 100);
  const coils = [true, false, true, true, false, false, false, false, true];
  const check = (start: number, count: number, size: number) => {
    if (start + count > size) throw new ModbusException(ILLEGAL_DATA_ADDRESS, 'past the end');
  };
  return {
    registers,
    coils,
    servesUnit: (unit) => unit === 1,
    readBits: (_table, _unit, start, count) => (check(start, count, coils.length), coils.slice(start, start + count)),
    readRegisters: (_table, _unit, start, count) => (check(start, count, registers.length), registers.slice(start, start + count)),
    writeBits: (_unit, start, values) => (check(start, values.length, coils.length), values.forEach((value, index) => (coils[start + index] = value))),
    writeRegisters: (_unit, start, values) => (check(start, values.length, registers.length), values.forEach((value, index) => (registers[start + index] = value))),
  };
}

const frame = (hex: string) => Buffer.from(hex.replace(/\s+/g, ''), 'hex');
const hex = (buffer: Buffer) => buffer.toString('hex').replace(/(..)/g, '$1 ').trim();

describe('Modbus TCP server frames', () => {
  const cases: Array<{ name: string; request: string; response: string }> = [
    { name: 'FC3 reads holding registers', request: '0001 0000 0006 01 03 0002 0002', response: '00 01 00 00 00 07 01 03 04 00 c8 01 2c' },
    { name: 'FC4 reads input registers', request: '0002 0000 0006 01 04 0000 0001', response: '00 02 00 00 00 05 01 04 02 00 00' },
    { name: 'FC1 packs coils least significant bit first', request: '0003 0000 0006 01 01 0000 0009', response: '00 03 00 00 00 05 01 01 02 0d 01' },
    { name: 'FC5 echoes a coil write', request: '0004 0000 0006 01 05 0001 ff00', response: '00 04 00 00 00 06 01 05 00 01 ff 00' },
    { name: 'FC6 echoes a register write', request: '0005 0000 0006 01 06 0003 1234', response: '00 05 00 00 00 06 01 06 00 03 12 34' },
    { name: 'FC16 answers start and quantity', request: '0006 0000 000b 01 10 0000 0002 04 0001 0002', response: '00 06 00 00 00 06 01 10 00 00 00 02' },
    { name: 'FC15 answers start and quantity', request: '0007 0000 0008 01 0f 0000 0003 01 05', response: '00 07 00 00 00 06 01 0f 00 00 00 03' },
    { name: 'an address past the end is exception 02', request: '0008 0000 0006 01 03 0009 0002', response: '00 08 00 00 00 03 01 83 02' },
    { name: 'a quantity over 125 registers is exception 03', request: '0009 0000 0006 01 03 0000 007e', response: '00 09 00 00 00 03 01 83 03' },
    { name: 'an unknown function is exception 01', request: '000a 0000 0002 01 2b', response: '00 0a 00 00 00 03 01 ab 01' },
    { name: 'a coil value other than FF00/0000 is exception 03', request: '000b 0000 0006 01 05 0000 1234', response: '00 0b 00 00 00 03 01 85 03' },
    { name: 'another unit id is exception 0B, as from a gateway', request: '000c 0000 0006 07 03 0000 0001', response: '00 0c 00 00 00 03 07 83 0b' },
  ];
  for (const testCase of cases) {
    it(testCase.name, () => {
      const server = new ModbusTcpServer(memoryHandler());
      expect(hex(server.respond(frame(testCase.request)))).to.equal(testCase.response);
    });
  }

  it('applies writes to the handler', () => {
    const handler = memoryHandler();
    const server = new ModbusTcpServer(handler);
    server.respond(frame('0001 0000 000b 01 10 0000 0002 04 0001 0002'));
    server.respond(frame('0002 0000 0008 01 0f 0000 0003 01 02'));
    expect(handler.registers.slice(0, 3)).to.deep.equal([1, 2, 200]);
    expect(handler.coils.slice(0, 3)).to.deep.equal([false, true, false]);
  });
});
