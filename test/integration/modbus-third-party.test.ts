// Third-party proof: the simulated PLCs answer mbpoll and pymodbus (Debian's packages) with the
// hydraulic model's values, and pymodbus writes change the hydraulics.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect } from 'chai';
import type { ModbusDevice, SiteConfig } from '../../src/contracts/site.js';
import { ModbusPlantServer } from '../../simulators/modbus/modbus-plant-server.js';
import { HydraulicPlant } from '../../simulators/plant/hydraulic-plant.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

async function pymodbus(port: number, ...operations: string[]): Promise<Array<{ operation: string; value: unknown; error: string | null }>> {
  const { stdout } = await run(PYTHON, ['test/support/pymodbus_peer.py', 'client', '127.0.0.1', String(port), '1', ...operations], { timeout: 20_000 });
  return stdout.trim().split('\n').map((line) => JSON.parse(line));
}

/** mbpoll prints one `[reference]: value` line per value. */
async function mbpoll(port: number, args: string[]): Promise<Map<number, number>> {
  const { stdout } = await run('mbpoll', ['-m', 'tcp', '-p', String(port), '-a', '1', '-0', '-1', '-o', '2', ...args, '127.0.0.1'], { timeout: 20_000 });
  return new Map([...stdout.matchAll(/^\[(\d+)\]:\s+(-?[\d.]+(?:e[+-]?\d+)?)/gim)].map((match) => [Number(match[1]), Number(match[2])]));
}

describe('simulated PLCs against third-party Modbus peers', function () {
  this.timeout(60_000);
  let site: SiteConfig;
  let plant: HydraulicPlant;
  const servers = new Map<string, ModbusPlantServer>();
  const port = (device: string) => servers.get(device)!.port;

  before(async () => {
    site = await demoSiteOnFreePorts();
    // Not started: the model holds its first solved state, so every peer sees the same values.
    plant = await HydraulicPlant.open(site, { seed: 7 });
    for (const device of site.devices) {
      const server = new ModbusPlantServer({ devices: [device as ModbusDevice], tags: site.tags, source: plant });
      await server.start();
      servers.set(device.id, server);
    }
  });

  after(async () => {
    for (const server of servers.values()) await server.stop();
    plant?.stop();
  });

  const modelValue = (tag: string) => plant.read(tag).value!;

  it('mbpoll reads scaled int16 pressures that match the model', async () => {
    const values = await mbpoll(port('plc-dma'), ['-t', '3', '-r', '2', '-c', '2']);
    expect(values.get(2)).to.equal(Math.round(modelValue('dma-1.pressure.1') / 0.01));
    expect(values.get(3)).to.equal(Math.round(modelValue('dma-1.pressure.2') / 0.01));
    expect(values.get(2)! * 0.01).to.be.within(15, 60);
  });

  it('mbpoll reads big-endian float32 flows that match the model', async () => {
    const values = await mbpoll(port('plc-dma'), ['-t', '3:float', '-B', '-r', '0', '-c', '1']);
    expect(values.get(0)).to.be.closeTo(modelValue('dma-1.inlet.flow'), 0.01);
    expect(values.get(0)).to.be.greaterThan(10);
  });

  it('mbpoll reads word-swapped (CDAB) float32 and pump coils', async () => {
    const flow = await mbpoll(port('plc-pump-station'), ['-t', '4:float', '-r', '2', '-c', '1']);
    expect(flow.get(2)).to.be.closeTo(modelValue('ps.outlet.flow'), 0.01);
    const coils = await mbpoll(port('plc-pump-station'), ['-t', '0', '-r', '0', '-c', '2']);
    expect([coils.get(0), coils.get(1)]).to.deep.equal([modelValue('ps.pump1.run'), modelValue('ps.pump2.run')]);
  });

  it('mbpoll reads word-swapped uint32 flows and discrete-input pump feedback', async () => {
    // mbpoll's default 32-bit word order is the low word first: CDAB.
    const flow = await mbpoll(port('plc-dma'), ['-t', '3:int', '-r', '10', '-c', '1']);
    expect(flow.get(10)! * 0.001).to.be.closeTo(modelValue('dma-2.inlet.flow'), 0.001);
    const feedback = await mbpoll(port('plc-pump-station'), ['-t', '1', '-r', '0', '-c', '2']);
    expect([feedback.get(0), feedback.get(1)]).to.deep.equal([modelValue('ps.pump1.running'), modelValue('ps.pump2.running')]);
  });

  it('pymodbus reads the same registers, including float64 and the tank level', async () => {
    const [float64] = await pymodbus(port('plc-dma'), 'read_input:20:4');
    const [level] = await pymodbus(port('plc-pump-station'), 'read_input:0:1');
    const words = float64!.value as number[];
    const buffer = Buffer.alloc(8);
    words.forEach((word, index) => buffer.writeUInt16BE(word, index * 2));
    expect(buffer.readDoubleBE(0)).to.be.closeTo(modelValue('dma-3.inlet.flow'), 1e-9);
    expect((level!.value as number[])[0]).to.equal(Math.round(modelValue('ps.tank.level') / 0.01));
  });

  it('answers exception 02 beyond a table, as a PLC does', async () => {
    const [result] = await pymodbus(port('plc-dma'), 'read_input:200:2');
    expect(result!.value).to.equal(null);
    expect(result!.error).to.match(/exception_code=2|IllegalAddress|Illegal/i);
  });

  it('a pymodbus write of the PRV setpoint changes the hydraulics', async () => {
    const flowBefore = plant.model.readElement('P-D3-IN', 'flow');
    const pressureBefore = modelValue('dma-3.pressure.1');
    const [write, readBack] = await pymodbus(port('plc-dma'), 'write_register:0:250', 'read_holding:0:1');
    expect(write!.value).to.equal('ok');
    expect(readBack!.value).to.deep.equal([250]);
    expect(modelValue('dma-3.prv.setpoint')).to.be.closeTo(25, 1e-9);
    plant.model.advanceTo(plant.model.timeS + 60);
    expect(modelValue('dma-3.pressure.1')).to.be.below(pressureBefore - 5);
    expect(plant.model.readElement('P-D3-IN', 'flow')).to.not.equal(flowBefore);
  });

  it('a pymodbus coil write stops a running pump, and the station flow follows', async () => {
    expect(modelValue('ps.pump1.run'), 'the duty pump runs at the start').to.equal(1);
    const flowBefore = modelValue('ps.outlet.flow');
    const [write] = await pymodbus(port('plc-pump-station'), 'write_coil:0:0');
    expect(write!.value).to.equal('ok');
    plant.model.advanceTo(plant.model.timeS + 60);
    expect(modelValue('ps.pump1.run')).to.equal(0);
    expect(modelValue('ps.outlet.flow')).to.be.below(flowBefore);
    const [coils] = await pymodbus(port('plc-pump-station'), 'read_coils:0:1');
    expect(coils!.value).to.deep.equal([0]);
  });
});
