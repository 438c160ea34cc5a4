// A simulated PLC on a serial line: answers Modbus RTU frames arriving on a pseudo-terminal
// (one end of a socat pair) with the simulated plant's Modbus server behind it. Frames are
// delimited by line silence, as RTU devices delimit them.
import { InterByteTimeoutParser, SerialPort } from 'serialport';
import type { ModbusTcpServer } from '../../simulators/modbus/modbus-tcp-server.js';

export function crc16(bytes: Buffer): number {
  let crc = 0xffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >> 1) ^ 0xa001 : crc >> 1;
  }
  return crc;
}

export async function serveRtuOnSerialLine(devicePath: string, server: ModbusTcpServer): Promise<{ close(): Promise<void> }> {
  const port = new SerialPort({ path: devicePath, baudRate: 19_200, parity: 'even', autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  // RTU frames end with 3.5 character times of silence; a few milliseconds on a pseudo-terminal.
  const frames = port.pipe(new InterByteTimeoutParser({ interval: 5 }));
  frames.on('data', (frame: Buffer) => {
    if (frame.length < 4 || crc16(frame.subarray(0, -2)) !== frame.readUInt16LE(frame.length - 2)) return;
    const pdu = frame.subarray(1, -2);
    const mbap = Buffer.alloc(7 + pdu.length);
    mbap.writeUInt16BE(pdu.length + 1, 4);
    mbap.writeUInt8(frame[0]!, 6);
    pdu.copy(mbap, 7);
    const answer = server.respond(mbap).subarray(6);
    const rtu = Buffer.alloc(answer.length + 2);
    answer.copy(rtu);
    rtu.writeUInt16LE(crc16(answer), answer.length);
    port.write(rtu);
  });
  return {
    close: () => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())),
  };
}
