import { expect } from 'chai';
import { decodeText, decodeValue, encodeValue } from '../../src/contracts/modbus-registers.js';
import { modbusAddressSchema, type ModbusAddress } from '../../src/contracts/site.js';

const address = (fields: Partial<ModbusAddress> & Pick<ModbusAddress, 'type'>): ModbusAddress =>
  modbusAddressSchema.parse({ table: fields.type === 'bool' ? 'coil' : 'holding_register', address: 0, ...fields });

describe('Modbus register layout', () => {
  // 123456.0 as float32 is 0x47F12000: bytes A=47 B=F1 C=20 D=00.
  const float32Cases: Array<[ModbusAddress['byte_order'], number[]]> = [
    ['ABCD', [0x47f1, 0x2000]],
    ['CDAB', [0x2000, 0x47f1]],
    ['BADC', [0xf147, 0x0020]],
    ['DCBA', [0x0020, 0xf147]],
  ];
  for (const [order, words] of float32Cases) {
    it(`decodes float32 ${order}`, () => {
      expect(decodeValue(words, address({ type: 'float32', byte_order: order }))).to.equal(123456);
      expect(encodeValue(123456, address({ type: 'float32', byte_order: order }))).to.deep.equal(words);
    });
  }

  const cases: Array<{ name: string; address: ModbusAddress; words: number[]; value: number }> = [
    { name: 'int16 negative', address: address({ type: 'int16' }), words: [0xfffe], value: -2 },
    { name: 'uint16 max', address: address({ type: 'uint16' }), words: [0xffff], value: 65535 },
    { name: 'int16 scaled 0.01', address: address({ type: 'int16', scale: 0.01 }), words: [3125], value: 31.25 },
    { name: 'uint16 scale and offset', address: address({ type: 'uint16', scale: 0.1, offset: -10 }), words: [150], value: 5 },
    { name: 'int32 ABCD', address: address({ type: 'int32' }), words: [0xffff, 0xfff6], value: -10 },
    { name: 'uint32 CDAB', address: address({ type: 'uint32', byte_order: 'CDAB' }), words: [0x5678, 0x1234], value: 0x12345678 },
    { name: 'int64 ABCD', address: address({ type: 'int64' }), words: [0x0000, 0x0001, 0x0000, 0x0000], value: 4294967296 },
    { name: 'uint64 DCBA', address: address({ type: 'uint64', byte_order: 'DCBA' }), words: [0x0100, 0, 0, 0], value: 1 },
    { name: 'float64 ABCD', address: address({ type: 'float64' }), words: [0x4009, 0x21fb, 0x5444, 0x2d18], value: Math.PI },
    { name: 'bool', address: address({ type: 'bool' }), words: [1], value: 1 },
  ];
  for (const testCase of cases) {
    it(`decodes and encodes ${testCase.name}`, () => {
      expect(decodeValue(testCase.words, testCase.address)).to.be.closeTo(testCase.value, 1e-9);
      expect(encodeValue(testCase.value, testCase.address)).to.deep.equal(testCase.words);
    });
  }

  it('reads one bit of a register', () => {
    expect(decodeValue([0b1010_0000], address({ type: 'bit', bit: 5 }))).to.equal(1);
    expect(decodeValue([0b1010_0000], address({ type: 'bit', bit: 6 }))).to.equal(0);
  });

  it('clamps integers at the type limits instead of wrapping', () => {
    expect(encodeValue(70000, address({ type: 'uint16' }))).to.deep.equal([0xffff]);
    expect(encodeValue(-5, address({ type: 'uint16' }))).to.deep.equal([0]);
  });

  it('decodes text packed two characters per register', () => {
    expect(decodeText([0x5049, 0x4c41, 0x0000], 'ABCD')).to.equal('PILA');
    expect(decodeText([0x4950, 0x414c], 'BADC')).to.equal('PILA');
  });
});
