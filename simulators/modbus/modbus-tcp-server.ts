// A Modbus TCP server (MBAP framing, function codes 1-6, 15 and 16) that answers each request as
// soon as it is parsed, with the exception codes a PLC uses. The simulated PLCs serve their
// register maps through it; what a request reads or writes is decided by the handler it is given.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

export type BitTable = 'coil' | 'discrete_input';
export type RegisterTable = 'holding_register' | 'input_register';

/** A Modbus exception a handler throws to answer a request with that code. */
export class ModbusException extends Error {
  constructor(
    readonly exceptionCode: number,
    message: string,
  ) {
    super(message);
  }
}

export const ILLEGAL_FUNCTION = 0x01;
export const ILLEGAL_DATA_ADDRESS = 0x02;
export const ILLEGAL_DATA_VALUE = 0x03;
export const SERVER_DEVICE_FAILURE = 0x04;
export const GATEWAY_TARGET_FAILED = 0x0b;

export interface ModbusRequestHandler {
  /** Unit ids this server answers for; others get exception 0x0B, as a gateway answers for a silent device. */
  servesUnit(unitId: number): boolean;
  readBits(table: BitTable, unitId: number, start: number, count: number): boolean[];
  readRegisters(table: RegisterTable, unitId: number, start: number, count: number): number[];
  writeBits(unitId: number, start: number, values: boolean[]): void;
  writeRegisters(unitId: number, start: number, values: number[]): void;
}

const MBAP_LENGTH = 7;

export class ModbusTcpServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly handler: ModbusRequestHandler) {}

  async listen(port: number, host: string): Promise<number> {
    const server = createServer((socket) => this.accept(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, host, () => resolve()));
    return (server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const socket of this.sockets) socket.destroy();
    if (server !== undefined) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= MBAP_LENGTH) {
        const length = pending.readUInt16BE(4);
        if (pending.readUInt16BE(2) !== 0 || length < 2 || length > 254) {
          // Not Modbus: a PLC drops such a connection.
          socket.destroy();
          return;
        }
        if (pending.length < 6 + length) break;
        const frame = pending.subarray(0, 6 + length);
        pending = pending.subarray(6 + length);
        socket.write(this.respond(frame));
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** The whole response frame (MBAP header and PDU) to one request frame. */
  respond(frame: Buffer): Buffer {
    const transactionId = frame.readUInt16BE(0);
    const unitId = frame.readUInt8(6);
    const functionCode = frame.readUInt8(7);
    const data = frame.subarray(8);
    let pdu: Buffer;
    try {
      if (!this.handler.servesUnit(unitId)) throw new ModbusException(GATEWAY_TARGET_FAILED, `no unit ${unitId}`);
      pdu = this.execute(functionCode, unitId, data);
    } catch (error) {
      const code = error instanceof ModbusException ? error.exceptionCode : SERVER_DEVICE_FAILURE;
      pdu = Buffer.from([functionCode | 0x80, code]);
    }
    const response = Buffer.alloc(MBAP_LENGTH + pdu.length);
    response.writeUInt16BE(transactionId, 0);
    response.writeUInt16BE(0, 2);
    response.writeUInt16BE(pdu.length + 1, 4);
    response.writeUInt8(unitId, 6);
    pdu.copy(response, MBAP_LENGTH);
    return response;
  }

  private execute(functionCode: number, unitId: number, data: Buffer): Buffer {
    const word = (offset: number) => {
      if (data.length < offset + 2) throw new ModbusException(ILLEGAL_DATA_VALUE, 'request too short');
      return data.readUInt16BE(offset);
    };
    switch (functionCode) {
      case 0x01:
      case 0x02: {
        const [start, count] = [word(0), word(2)];
        if (count < 1 || count > 2000) throw new ModbusException(ILLEGAL_DATA_VALUE, 'quantity of bits must be 1-2000');
        checkRange(start, count);
        const bits = this.handler.readBits(functionCode === 0x01 ? 'coil' : 'discrete_input', unitId, start, count);
        const bytes = Buffer.alloc(Math.ceil(count / 8));
        bits.forEach((bit, index) => {
          if (bit) bytes[index >> 3]! |= 1 << (index & 7);
        });
        return Buffer.concat([Buffer.from([functionCode, bytes.length]), bytes]);
      }
      case 0x03:
      case 0x04: {
        const [start, count] = [word(0), word(2)];
        if (count < 1 || count > 125) throw new ModbusException(ILLEGAL_DATA_VALUE, 'quantity of registers must be 1-125');
        checkRange(start, count);
        const registers = this.handler.readRegisters(functionCode === 0x03 ? 'holding_register' : 'input_register', unitId, start, count);
        const response = Buffer.alloc(2 + count * 2);
        response.writeUInt8(functionCode, 0);
        response.writeUInt8(count * 2, 1);
        registers.forEach((register, index) => response.writeUInt16BE(register & 0xffff, 2 + index * 2));
        return response;
      }
      case 0x05: {
        const [address, value] = [word(0), word(2)];
        if (value !== 0xff00 && value !== 0x0000) throw new ModbusException(ILLEGAL_DATA_VALUE, 'a coil is written as 0xFF00 or 0x0000');
        this.handler.writeBits(unitId, address, [value === 0xff00]);
        return Buffer.concat([Buffer.from([functionCode]), data.subarray(0, 4)]);
      }
      case 0x06: {
        this.handler.writeRegisters(unitId, word(0), [word(2)]);
        return Buffer.concat([Buffer.from([functionCode]), data.subarray(0, 4)]);
      }
      case 0x0f: {
        const [start, count] = [word(0), word(2)];
        const byteCount = data.readUInt8(4);
        if (count < 1 || count > 1968 || byteCount !== Math.ceil(count / 8) || data.length < 5 + byteCount) {
          throw new ModbusException(ILLEGAL_DATA_VALUE, 'bad quantity or byte count');
        }
        checkRange(start, count);
        const values = Array.from({ length: count }, (_, index) => ((data[5 + (index >> 3)]! >> (index & 7)) & 1) === 1);
        this.handler.writeBits(unitId, start, values);
        return Buffer.concat([Buffer.from([functionCode]), data.subarray(0, 4)]);
      }
      case 0x10: {
        const [start, count] = [word(0), word(2)];
        const byteCount = data.readUInt8(4);
        if (count < 1 || count > 123 || byteCount !== count * 2 || data.length < 5 + byteCount) {
          throw new ModbusException(ILLEGAL_DATA_VALUE, 'bad quantity or byte count');
        }
        checkRange(start, count);
        const values = Array.from({ length: count }, (_, index) => data.readUInt16BE(5 + index * 2));
        this.handler.writeRegisters(unitId, start, values);
        return Buffer.concat([Buffer.from([functionCode]), data.subarray(0, 4)]);
      }
      default:
        throw new ModbusException(ILLEGAL_FUNCTION, `function code ${functionCode} is not supported`);
    }
  }
}

function checkRange(start: number, count: number): void {
  if (start + count > 0x10000) throw new ModbusException(ILLEGAL_DATA_ADDRESS, 'range runs past address 65535');
}
