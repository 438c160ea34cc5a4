// pymodbus (Debian's python3-pymodbus) as a third-party PLC or gateway, in its own process.
import { spawn, type ChildProcess } from 'node:child_process';
import { ModbusClient } from '../../connectors/modbus/modbus-client.js';

export interface PymodbusServer {
  port: number;
  stop(): Promise<void>;
}

/** Serves `registers` holding/input registers (register n holds n) and 16 coils for each unit. */
export async function startPymodbusServer(port: number, registers: number, options: { units?: number[]; rtuOverTcp?: boolean } = {}): Promise<PymodbusServer> {
  const args = ['test/support/pymodbus_peer.py', 'server', '127.0.0.1', String(port), String(registers), '--units', (options.units ?? [1]).join(',')];
  if (options.rtuOverTcp) args.push('--rtu');
  const child: ChildProcess = spawn('/usr/bin/python3', args, { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`pymodbus server exited with ${code}`)));
  });
  // The script prints before it binds: wait until the port accepts connections.
  for (let attempt = 0; attempt < 100; attempt++) {
    const probe = new ModbusClient();
    const open = await probe.connectTCP('127.0.0.1', { port }).then(() => true, () => false);
    if (open) {
      await new Promise<void>((resolve) => probe.close(() => resolve()));
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    port,
    stop: async () => {
      if (child.exitCode !== null) return;
      child.kill();
      await new Promise((resolve) => child.once('exit', resolve));
    },
  };
}
