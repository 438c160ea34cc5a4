// The engine role: runs the event-time engine on live telemetry (from MQTT) and complaints and
// operator decisions (from the database), and stores and publishes what it concludes.
//
// On start it learns baselines from stored history, re-reads the most recent stretch of raw
// telemetry and complaints to rebuild the state of ongoing anomalies and incidents, then goes
// live. Conclusions carry deterministic ids and are written idempotently, so a restart that
// re-derives them changes nothing; live samples that overlap the re-read stretch are ignored
// by the detectors (a tag's samples only move forward).
//
// The watermark is event time: the newest sample time seen, less an allowed lateness. Only when
// telemetry has stopped altogether does the wall clock move it, so complaints are not held back
// forever by a dead plant.
import mqtt, { type MqttClient } from 'mqtt';
import type pg from 'pg';
import { anomalyToJson, type Anomaly, type AnomalyEvent, type EngineSample } from '../contracts/anomaly.js';
import { incidentToJson, type CorrelationEvent, type Incident, type WorkOrderOpening } from '../contracts/incident.js';
import type { SiteConfig } from '../contracts/site.js';
import { qualityCode, telemetryBatchSchema, topics } from '../contracts/telemetry.js';
import type { Logger } from '../log.js';
import { openIncidentWorkOrder } from '../workorders/work-orders.js';
import { markIncidentMerged, saveAnomaly, saveIncident } from './engine-store.js';
import { EventTimeEngine } from './event-time-engine.js';
import { recordComplaintAssignments } from '../complaints/complaint-store.js';
import { complaintAssignments, readEngineComplaintsAfter, readOperatorDecisionsAfter } from './engine-inputs.js';

export interface LiveEngineOptions {
  mqttUrl: string;
  pool: pg.Pool;
  site: SiteConfig;
  log: Logger;
  clientId: string;
  /** How far behind the newest sample the watermark trails, for devices that report a little late. */
  latenessMs?: number;
  /** Raw telemetry and complaints re-read at start to rebuild ongoing state. */
  catchUpMs?: number;
  /** Stored history the baselines learn from at start (as 5-minute means). */
  historyDays?: number;
  pollIntervalMs?: number;
  /** Wall time without any telemetry after which the wall clock moves the watermark. */
  silenceMs?: number;
  clock?: () => number;
}

export interface LiveEngineCounters {
  samples: number;
  invalidMessages: number;
  complaints: number;
  decisions: number;
  anomalyEvents: number;
  incidentEvents: number;
  workOrders: number;
  writeFailures: number;
}

type Output = { kind: 'anomaly'; event: AnomalyEvent } | { kind: 'correlation'; event: CorrelationEvent };

export class LiveEngine {
  readonly counters: LiveEngineCounters = { samples: 0, invalidMessages: 0, complaints: 0, decisions: 0, anomalyEvents: 0, incidentEvents: 0, workOrders: 0, writeFailures: 0 };
  private readonly engine: EventTimeEngine;
  private client: MqttClient | undefined;
  private outbox: Output[] = [];
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private live = false;
  private heldMessages: Buffer[] = [];
  private newestSampleMs = Number.NEGATIVE_INFINITY;
  private lastSampleWallMs: number;
  private complaintSeq = 0;
  private decisionSeq = 0;
  private readonly latenessMs: number;
  private readonly silenceMs: number;
  private readonly clock: () => number;

  constructor(private readonly options: LiveEngineOptions) {
    this.latenessMs = options.latenessMs ?? 15_000;
    this.silenceMs = options.silenceMs ?? 60_000;
    this.clock = options.clock ?? Date.now;
    this.lastSampleWallMs = this.clock();
    this.engine = new EventTimeEngine(options.site, {
      anomaly: (event) => this.outbox.push({ kind: 'anomaly', event }),
      correlation: (event) => this.outbox.push({ kind: 'correlation', event }),
    });
  }

  async start(): Promise<void> {
    const { site, pool } = this.options;
    const siteId = site.site.id;
    // Subscribe first and hold live messages, so nothing falls between the re-read and going live.
    const client = mqtt.connect(this.options.mqttUrl, { clientId: this.options.clientId, clean: true, reconnectPeriod: 1000 });
    this.client = client;
    client.on('message', (_topic, payload) => {
      if (this.live) this.takeTelemetry(payload);
      else this.heldMessages.push(payload);
    });
    client.on('error', (error) => this.options.log.warn({ err: error }, 'engine broker connection error'));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.subscribeAsync(topics.telemetry(siteId, '+'), { qos: 1 });

    const nowMs = this.clock();
    const catchUpFromMs = nowMs - (this.options.catchUpMs ?? 2 * 3_600_000);
    this.engine.learn(await readHistory(pool, siteId, nowMs - (this.options.historyDays ?? 28) * 86_400_000, catchUpFromMs));
    const recent = await readRawTelemetry(pool, siteId, catchUpFromMs);
    const complaints = await readEngineComplaintsAfter(pool, siteId, 0, catchUpFromMs);
    for (const { complaint, seq } of complaints) {
      this.complaintSeq = Math.max(this.complaintSeq, seq);
      this.engine.complaint(complaint);
    }
    let time = Number.NEGATIVE_INFINITY;
    for (const sample of recent) {
      if (sample.timeMs !== time) this.engine.advanceTo(sample.timeMs);
      time = sample.timeMs;
      this.engine.observe(sample);
      this.newestSampleMs = Math.max(this.newestSampleMs, sample.timeMs);
    }
    this.options.log.info({ samples: recent.length, complaints: complaints.length, since: new Date(catchUpFromMs).toISOString() }, 'engine caught up from stored telemetry and complaints');
    this.live = true;
    for (const payload of this.heldMessages) this.takeTelemetry(payload);
    this.heldMessages = [];
    this.tick();
    this.timer = setInterval(() => this.tick(), this.options.pollIntervalMs ?? 1000);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling;
    await this.drain();
    await this.client?.endAsync();
    this.client = undefined;
  }

  /** Resolves once every conclusion so far is stored and published. */
  async drain(): Promise<void> {
    while (this.writing !== undefined || this.outbox.length > 0) {
      this.flushOutbox();
      await this.writing;
    }
  }

  private takeTelemetry(payload: Buffer): void {
    let batch;
    try {
      batch = telemetryBatchSchema.parse(JSON.parse(payload.toString('utf8')));
    } catch {
      this.counters.invalidMessages += 1;
      return;
    }
    if (batch.site !== this.options.site.site.id) return;
    this.lastSampleWallMs = this.clock();
    for (const sample of batch.samples) {
      this.counters.samples += 1;
      this.engine.observe({ tag: sample.tag, timeMs: sample.source_ts_ms, value: sample.value, quality: qualityCode[sample.quality] as 0 | 1 | 2 });
      if (sample.source_ts_ms > this.newestSampleMs) this.newestSampleMs = sample.source_ts_ms;
    }
    this.flushOutbox();
  }

  private tick(): void {
    this.polling ??= this.pollInputs()
      .catch((error: unknown) => this.options.log.error({ err: error }, 'engine cannot read complaints'))
      .finally(() => {
        this.polling = undefined;
      });
    const silent = this.clock() - this.lastSampleWallMs > this.silenceMs;
    const watermark = silent ? Math.max(this.newestSampleMs, this.clock()) - this.latenessMs : this.newestSampleMs - this.latenessMs;
    if (Number.isFinite(watermark)) this.engine.advanceTo(watermark);
    this.flushOutbox();
  }

  private async pollInputs(): Promise<void> {
    const siteId = this.options.site.site.id;
    for (const { complaint, seq } of await readEngineComplaintsAfter(this.options.pool, siteId, this.complaintSeq)) {
      this.complaintSeq = Math.max(this.complaintSeq, seq);
      this.counters.complaints += 1;
      this.engine.complaint(complaint);
    }
    for (const { decision, seq } of await readOperatorDecisionsAfter(this.options.pool, siteId, this.decisionSeq)) {
      this.decisionSeq = Math.max(this.decisionSeq, seq);
      this.counters.decisions += 1;
      this.engine.decision(decision);
    }
  }

  private flushOutbox(): void {
    if (this.writing !== undefined || this.outbox.length === 0) return;
    const outputs = this.outbox;
    this.outbox = [];
    this.writing = this.write(outputs).finally(() => {
      this.writing = undefined;
      if (this.outbox.length > 0) this.flushOutbox();
    });
  }

  /**
   * Stores a run of conclusions in one transaction, then publishes them; retried until stored.
   * A run holds every conclusion since the last write, so under a burst of complaints each incident
   * and complaint is written once, in its latest state, however often it changed meanwhile.
   */
  private async write(outputs: Output[]): Promise<void> {
    const siteId = this.options.site.site.id;
    const run = collectRun(outputs);
    for (;;) {
      const client = await this.options.pool.connect().catch(() => undefined);
      if (client !== undefined) {
        try {
          await client.query('BEGIN');
          await this.store(client, siteId, run);
          await client.query('COMMIT');
          client.release();
          break;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          client.release(error as Error);
          this.options.log.error({ err: error, outputs: outputs.length }, 'engine cannot store its conclusions; retrying');
        }
      }
      this.counters.writeFailures += 1;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    this.counters.anomalyEvents += run.anomalyEvents;
    this.counters.incidentEvents += run.incidentEvents;
    for (const output of run.published) this.publish(siteId, output);
  }

  /** In the order the rows refer to each other: anomalies and incidents, merges, complaints, then work orders. */
  private async store(client: pg.PoolClient, siteId: string, run: OutputRun): Promise<void> {
    for (const anomaly of run.anomalies.values()) await saveAnomaly(client, siteId, anomaly);
    for (const incident of run.incidents.values()) await saveIncident(client, siteId, incident);
    for (const merge of run.merges) await markIncidentMerged(client, merge.from, merge.into);
    await recordComplaintAssignments(client, complaintAssignments(run.assignments, run.merges));
    for (const opening of run.workOrders) {
      const order = await openIncidentWorkOrder(client, this.options.site, opening);
      if (order !== undefined) {
        this.counters.workOrders += 1;
        this.options.log.info({ workOrder: order.id, code: order.code, incident: order.incident_id, priority: order.priority, crew: order.crew, dueAt: order.due_at }, 'work order opened');
      }
    }
  }

  private publish(siteId: string, output: Output): void {
    const client = this.client;
    if (client === undefined) return;
    if (output.kind === 'anomaly') {
      client.publish(topics.anomalies(siteId), JSON.stringify({ type: output.event.type, at: new Date(output.event.atMs).toISOString(), anomaly: anomalyToJson(output.event.anomaly) }), { qos: 1 });
    } else if (output.event.type === 'incident_opened' || output.event.type === 'incident_updated' || output.event.type === 'incident_closed') {
      client.publish(topics.incidents(siteId), JSON.stringify({ type: output.event.type, at: new Date(output.event.atMs).toISOString(), incident: incidentToJson(output.event.incident) }), { qos: 1 });
    } else if (output.event.type === 'incidents_merged') {
      client.publish(topics.incidents(siteId), JSON.stringify({ type: output.event.type, at: new Date(output.event.atMs).toISOString(), from: output.event.from, into: output.event.into }), { qos: 1 });
    }
  }
}

type CorrelationOf<T extends CorrelationEvent['type']> = Extract<CorrelationEvent, { type: T }>;

/** A run of conclusions reduced to what to write, each row in its latest state, and what to publish. */
interface OutputRun {
  anomalies: Map<string, Anomaly>;
  incidents: Map<string, Incident>;
  merges: Array<CorrelationOf<'incidents_merged'>>;
  assignments: Array<CorrelationOf<'complaint_assigned'>>;
  workOrders: WorkOrderOpening[];
  /** In order; an incident's update is left out when a later event of the same incident carries its newer state. */
  published: Output[];
  anomalyEvents: number;
  incidentEvents: number;
}

function collectRun(outputs: readonly Output[]): OutputRun {
  const run: OutputRun = { anomalies: new Map(), incidents: new Map(), merges: [], assignments: [], workOrders: [], published: [], anomalyEvents: 0, incidentEvents: 0 };
  const lastIncidentEvent = new Map<string, number>();
  outputs.forEach((output, index) => {
    if (output.kind === 'anomaly') {
      run.anomalyEvents += 1;
      run.anomalies.set(output.event.anomaly.id, output.event.anomaly);
      return;
    }
    const event = output.event;
    switch (event.type) {
      case 'incident_opened':
      case 'incident_updated':
      case 'incident_closed':
        run.incidentEvents += 1;
        run.incidents.set(event.incident.id, event.incident);
        lastIncidentEvent.set(event.incident.id, index);
        return;
      case 'incidents_merged':
        run.incidentEvents += 1;
        run.merges.push(event);
        return;
      case 'complaint_assigned':
        run.assignments.push(event);
        return;
      case 'work_order_opened':
        run.workOrders.push(event.workOrder);
        return;
    }
  });
  run.published = outputs.filter((output, index) => output.kind === 'anomaly' || output.event.type !== 'incident_updated' || lastIncidentEvent.get(output.event.incident.id) === index);
  return run;
}

/** Stored history as 5-minute means of good samples, oldest first, for the baselines. */
async function readHistory(pool: pg.Pool, siteId: string, fromMs: number, toMs: number): Promise<EngineSample[]> {
  if (toMs <= fromMs) return [];
  const { rows } = await pool.query<{ key: string; bucket: Date; value: number }>(
    `SELECT tag.key, date_bin(INTERVAL '5 minutes', t.time, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, avg(t.value)::float8 AS value
     FROM telemetry t JOIN tag ON tag.id = t.tag_id
     WHERE tag.site_id = $1 AND t.time >= $2 AND t.time < $3 AND t.quality < 2 AND t.value IS NOT NULL
     GROUP BY 1, 2 ORDER BY 2, 1`,
    [siteId, new Date(fromMs), new Date(toMs)],
  );
  return rows.map((row) => ({ tag: row.key, timeMs: row.bucket.getTime(), value: row.value, quality: 0 }));
}

async function readRawTelemetry(pool: pg.Pool, siteId: string, fromMs: number): Promise<EngineSample[]> {
  const { rows } = await pool.query<{ key: string; time: Date; value: number | null; quality: number }>(
    `SELECT tag.key, t.time, t.value, t.quality FROM telemetry t JOIN tag ON tag.id = t.tag_id
     WHERE tag.site_id = $1 AND t.time >= $2 ORDER BY t.time, tag.key`,
    [siteId, new Date(fromMs)],
  );
  return rows.map((row) => ({ tag: row.key, timeMs: row.time.getTime(), value: row.value, quality: row.quality as 0 | 1 | 2 }));
}
