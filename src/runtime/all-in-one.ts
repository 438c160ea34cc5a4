// Every role in one process, as `tirta all` and `tirta scenario run` start them: the simulated
// plant, a connector polling it, ingest, the engine and the API, with the plant's synthetic
// complaints posted to that API. The simulated clock starts once everything is up, so scenario
// offsets count from a system that is listening; the connector stamps samples with the plant's
// time, so an accelerated plant gives the engine accelerated telemetry, not wall time.
import { createApiKey } from '../access/accounts.js';
import { loadDemoAccounts } from '../access/demo-accounts.js';
import { startApi, startConnector, startEngine, startIngest, type Services } from './roles.js';
import { startSimulator, startSimulatorHttp, type SimulatorHandle, type SimulatorOptions } from './simulator.js';

export interface AllInOneOptions extends Omit<SimulatorOptions, 'complaintApi' | 'startClock'> {
  /** A demo accounts file to load (config/demo-accounts.yaml). */
  demoAccounts?: string | undefined;
}

export interface AllInOne {
  simulator: SimulatorHandle;
  /** The API's base URL, http://host:port. */
  apiUrl: string;
}

export async function startAllInOne(services: Services, options: AllInOneOptions = {}): Promise<AllInOne> {
  const { demoAccounts, ...simulatorOptions } = options;
  let complaintApi: { url: string; apiKey: string } | undefined;
  const simulator = await startSimulator(services, { ...simulatorOptions, startClock: false, complaintApi: () => complaintApi });
  await startSimulatorHttp(services, simulator, services.env.simPort);
  const pool = await services.database();
  if (demoAccounts !== undefined) await loadDemoAccounts(pool, demoAccounts, services.log);
  // The simulated plant's complaints come in as a machine's: a key re-issued at every start.
  const apiKey = await createApiKey(pool, { name: 'simulated-complaints', role: 'operator' }, { replace: true });
  await startIngest(services);
  await startEngine(services);
  await startConnector(services, services.site.connector.id, () => Math.floor(simulator.plant.clock.now()));
  complaintApi = { url: (await startApi(services)).url, apiKey };
  // Stops before the API does: the complaints already handed over are posted while it still
  // answers, and those the plant makes after that stay in its complaints file only.
  services.lifecycle.add('synthetic complaints to the API', async () => {
    complaintApi = undefined;
    await simulator.complaintsPosted();
  });
  simulator.plant.start();
  return { simulator, apiUrl: complaintApi.url };
}
