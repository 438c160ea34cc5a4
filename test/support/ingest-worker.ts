// One ingest worker in its own process, so a test can kill it with SIGKILL as a crash would.
// Prints its counters as JSON lines; with --die-after-commit it kills itself the moment its
// first batch has committed, before any PUBACK for that batch leaves the process.
import { parseArgs } from 'node:util';
import pg from 'pg';
import { TelemetryIngest } from '../../src/ingest/telemetry-ingest.js';
import { silentLogger } from '../../src/log.js';
import { listTags } from '../../src/storage/site-registry.js';

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    mqtt: { type: 'string' },
    site: { type: 'string' },
    'client-id': { type: 'string' },
    'protocol-version': { type: 'string', default: '4' },
    'die-after-commit': { type: 'boolean', default: false },
    'max-batch-rows': { type: 'string', default: '5000' },
  },
});

const pool = new pg.Pool({ connectionString: values.db, max: 2 });
pool.on('error', () => undefined);
const tags = await listTags(pool, values.site!);
const ingest = new TelemetryIngest({
  mqttUrl: values.mqtt!,
  pool,
  tagIds: new Map([[values.site!, new Map(tags.map((tag) => [tag.key, tag.id]))]]),
  log: silentLogger,
  clientId: values['client-id']!,
  protocolVersion: values['protocol-version'] === '5' ? 5 : 4,
  flushIntervalMs: 20,
  maxBatchRows: Number(values['max-batch-rows']),
  onCommitted: () => {
    if (values['die-after-commit']) process.kill(process.pid, 'SIGKILL');
  },
});
await ingest.start();
const report = () => process.stdout.write(`${JSON.stringify({ ...ingest.counters, unacknowledged: ingest.unacknowledged })}\n`);
report();
setInterval(report, 50);
// The test that started this worker has gone: stop with it.
process.stdout.on('error', () => process.exit(0));
