// How much wall time a simulated day of the demo network costs at the plant's 1-minute cadence:
// the budget an accelerated simulator has to live within.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { HydraulicModel } from './hydraulic-model.js';

const DEMO_TOWN_INP = fileURLToPath(new URL('./networks/demo-town.inp', import.meta.url));
const DAY_S = 86_400;
const MINUTE_S = 60;

/** `steps` counts solver steps (a minute each, plus tank and control events). */
export async function benchSimulateDay(): Promise<{ secondsPerSimulatedDay: number; steps: number }> {
  const model = await HydraulicModel.open(DEMO_TOWN_INP, { seed: 1 });
  try {
    const startedMs = performance.now();
    for (let simTimeS = MINUTE_S; simTimeS <= DAY_S; simTimeS += MINUTE_S) model.advanceTo(simTimeS);
    return { secondsPerSimulatedDay: (performance.now() - startedMs) / 1000, steps: model.steps };
  } finally {
    model.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await benchSimulateDay();
  console.log(`${result.secondsPerSimulatedDay.toFixed(2)} s per simulated day (${result.steps} solver steps)`);
}
