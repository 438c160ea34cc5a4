// Simulated PLCs for the connector benchmark, in their own process so that the connector's CPU
// and memory are measured alone: serves every Modbus device of the site file given as JSON on
// stdin from a synthetic plant, prints "ready" and runs until stdin closes.
import { siteConfigSchema, type ModbusDevice } from '../../src/contracts/site.js';
import { ModbusPlantServer } from '../../simulators/modbus/modbus-plant-server.js';
import { SyntheticPlant } from '../../simulators/plant/synthetic-plant.js';

let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => (input += chunk));
process.stdin.once('end', async () => {
  // stdin closing is also the signal to stop: the site arrives in the first line.
});
const firstLine = await new Promise<string>((resolve) => {
  const check = () => {
    const newline = input.indexOf('\n');
    if (newline >= 0) resolve(input.slice(0, newline));
    else process.stdin.once('data', check);
  };
  check();
});
const site = siteConfigSchema.parse(JSON.parse(firstLine));
const plant = new SyntheticPlant(site);
const servers = site.devices.map((device) => new ModbusPlantServer({ devices: [device as ModbusDevice], tags: site.tags, source: plant }));
for (const server of servers) await server.start();
process.stdout.write('ready\n');
process.stdin.once('end', async () => {
  for (const server of servers) await server.stop();
  process.exit(0);
});
