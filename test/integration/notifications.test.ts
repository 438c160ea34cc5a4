// Complainants' notifications against a real PostgreSQL: the rows an order's completion writes
// (per complaint and channel, merged incidents included, once), and the sender delivering them
// through channel adapters with retries, backoff, give-up, and several senders side by side.
import { expect } from 'chai';
import { pino, type Logger } from 'pino';
import { acceptComplaint } from '../../src/complaints/complaint-intake.js';
import { complaintChannels, type ComplaintBody } from '../../src/contracts/complaint.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { silentLogger } from '../../src/log.js';
import { migrate } from '../../src/storage/migrate.js';
import { registerSite } from '../../src/storage/site-registry.js';
import { inTransaction, pgDatabase } from '../../src/storage/sql.js';
import {
  NotificationSender,
  recordCompletionNotifications,
  type ChannelAdapter,
  type CompletedOrder,
  type NotificationSenderOptions,
  type OutgoingNotification,
} from '../../src/workorders/notifications.js';
import { freshDatabase, uniqueId, waitFor, type FreshDatabase } from '../support/services.js';
import { demoSiteOnFreePorts } from '../support/site-fixture.js';

const IN_DMA_1 = { lat: -6.8915, lon: 107.6105 };
const PHONE = '+6281234567890';
const noGeocoder = { geocode: async () => undefined };

/** Keeps every notification it is given; `behaviour` may delay or fail a send. */
class RecordingAdapter implements ChannelAdapter {
  readonly attempted: OutgoingNotification[] = [];
  readonly sent: OutgoingNotification[] = [];

  constructor(
    readonly channels: readonly string[] = complaintChannels,
    private readonly behaviour: (notification: OutgoingNotification) => Promise<void> = async () => undefined,
  ) {}

  async send(notification: OutgoingNotification): Promise<void> {
    this.attempted.push(notification);
    await this.behaviour(notification);
    this.sent.push(notification);
  }
}

function capturingLogger(): { log: Logger; entries: Array<Record<string, any>> } {
  const entries: Array<Record<string, any>> = [];
  return { log: pino({ level: 'info' }, { write: (line: string) => entries.push(JSON.parse(line)) }), entries };
}

type Row = Record<string, any>;

describe('complainant notifications', function () {
  this.timeout(60_000);
  let db: FreshDatabase;
  let site: SiteConfig;
  let siteId: string;

  before(async () => {
    db = await freshDatabase();
    await migrate(pgDatabase(db.pool));
    site = await demoSiteOnFreePorts();
    siteId = site.site.id;
    await registerSite(db.pool, site);
  });
  after(async () => db?.drop());
  // The sender serves every site in the database: each test starts with no notifications.
  beforeEach(async () => {
    await db.pool.query('TRUNCATE complaint_notification');
  });

  async function complain(channel: ComplaintBody['channel'], contact?: string, category: ComplaintBody['category'] = 'no_water'): Promise<string> {
    const body: ComplaintBody = { channel, category, location: IN_DMA_1, text: 'no water since this morning', ...(contact === undefined ? {} : { contact }) };
    const { complaint } = await acceptComplaint(db.pool, site, body, { geocoder: noGeocoder, receivedAtMs: Date.now() });
    return complaint.id;
  }

  async function incident(complaintIds: string[], mergedInto: string | null = null): Promise<string> {
    const id = uniqueId('inc');
    await db.pool.query(
      `INSERT INTO incident (id, site_id, zone_id, kind, opened_at, priority, score, reasons, complaint_ids, anomaly_ids, verified, merged_into)
       VALUES ($1, $2, 'dma-1', 'burst', now(), 'P1', 80, '[]', $3, '{}', true, $4)`,
      [id, siteId, complaintIds, mergedInto],
    );
    return id;
  }

  async function assignToIncident(complaintId: string, incidentId: string): Promise<void> {
    await db.pool.query('UPDATE complaint SET incident_id = $2 WHERE id = $1', [complaintId, incidentId]);
  }

  async function completedOrder(incidentId: string): Promise<CompletedOrder> {
    const { rows } = await db.pool.query(
      `INSERT INTO work_order (id, site_id, incident_id, job_type, priority, created_at, due_at, source, title, status, completed_at)
       VALUES ($1, $2, $3, 'burst_repair', 'P1', now(), now() + interval '4 hours', 'incident', 'burst in DMA 1', 'completed', now())
       RETURNING id, code, incident_id, title`,
      [uniqueId('wo'), siteId, incidentId],
    );
    return { id: rows[0].id, code: rows[0].code, incidentId: rows[0].incident_id };
  }

  const record = (order: CompletedOrder) => inTransaction(db.pool, (client) => recordCompletionNotifications(client, siteId, order));

  /** An incident with one complaint per channel given, each with a contact, and its completed order, recorded. */
  async function notified(channels: ReadonlyArray<ComplaintBody['channel']>): Promise<{ order: CompletedOrder; complaintIds: string[] }> {
    const complaintIds = [];
    for (const channel of channels) complaintIds.push(await complain(channel, PHONE));
    const order = await completedOrder(await incident(complaintIds));
    expect(await record(order)).to.equal(channels.length);
    return { order, complaintIds };
  }

  const rows = async (where = 'true', params: unknown[] = []): Promise<Row[]> =>
    (await db.pool.query(`SELECT *, complaint_id::text AS complaint_id FROM complaint_notification WHERE ${where} ORDER BY id`, params)).rows;

  const sender = (options: Partial<NotificationSenderOptions> & { adapters: ChannelAdapter[] }) => new NotificationSender({ pool: db.pool, log: silentLogger, pollIntervalMs: 10, ...options });

  it('records one notification per complaint and channel of the incident, merged incidents included, and only once', async () => {
    const listed = await complain('whatsapp', PHONE, 'leak_burst');
    const listedAndNamed = await complain('call_center', '+622270001111');
    const ofMerged = await complain('web', 'warga@example.id');
    const listedByMerged = await complain('sp4n_lapor', 'LAPOR-88231');
    const elsewhere = await complain('whatsapp', '+6289900001111');
    const main = await incident([listed, listedAndNamed]);
    const merged = await incident([listedByMerged], main);
    const other = await incident([elsewhere]);
    await assignToIncident(listedAndNamed, main);
    await assignToIncident(ofMerged, merged);
    await assignToIncident(elsewhere, other);
    const order = await completedOrder(main);

    expect(await record(order)).to.equal(4);
    const written = await rows();
    expect(written.map((row) => [row.complaint_id, row.channel, row.contact, row.status, row.work_order_id, row.site_id, row.attempts])).to.have.deep.members([
      [listed, 'whatsapp', PHONE, 'pending', order.id, siteId, 0],
      [listedAndNamed, 'call_center', '+622270001111', 'pending', order.id, siteId, 0],
      [ofMerged, 'web', 'warga@example.id', 'pending', order.id, siteId, 0],
      [listedByMerged, 'sp4n_lapor', 'LAPOR-88231', 'pending', order.id, siteId, 0],
    ]);
    expect(written.find((row) => row.complaint_id === listed)!.message).to.equal(
      `Tirta: the problem you reported (leak or burst pipe) has been repaired. Work order ${order.code} completed. Thank you.`,
    );

    // Completed again after a reopening: nobody is told twice.
    expect(await record(order)).to.equal(0);
    expect(await rows()).to.deep.equal(written);
  });

  it('records a complaint without contact as no_contact, which is never sent', async () => {
    const silent = await complain('walk_in');
    const reachable = await complain('whatsapp', PHONE);
    const order = await completedOrder(await incident([silent, reachable]));
    expect(await record(order)).to.equal(2);
    expect((await rows()).map((row) => [row.complaint_id, row.status, row.contact])).to.have.deep.members([
      [silent, 'no_contact', null],
      [reachable, 'pending', PHONE],
    ]);
    const adapter = new RecordingAdapter();
    expect(await sender({ adapters: [adapter] }).sendPending()).to.deep.equal({ sent: 1, failed: 0, retried: 0 });
    expect(adapter.attempted.map((notification) => notification.complaintId)).to.deep.equal([reachable]);
    expect((await rows('complaint_id = $1', [silent]))[0]).to.include({ status: 'no_contact', attempts: 0 });
  });

  it('leaves no notification when the completing transaction rolls back', async () => {
    const order = await completedOrder(await incident([await complain('whatsapp', PHONE)]));
    const refusal = await inTransaction(db.pool, async (client) => {
      expect(await recordCompletionNotifications(client, siteId, order)).to.equal(1);
      throw new Error('completion refused');
    }).catch((error: unknown) => error);
    expect((refusal as Error).message).to.equal('completion refused');
    expect(await rows()).to.deep.equal([]);
  });

  it('delivers pending notifications through the adapter of their channel and marks them sent', async () => {
    const { order, complaintIds } = await notified(['whatsapp', 'call_center']);
    const whatsapp = new RecordingAdapter(['whatsapp']);
    const others = new RecordingAdapter();
    const nowMs = Date.now() + 1000;
    const { log, entries } = capturingLogger();
    const delivering = sender({ adapters: [whatsapp, others], clock: () => nowMs, log });

    expect(await delivering.sendPending()).to.deep.equal({ sent: 2, failed: 0, retried: 0 });
    const written = await rows();
    expect(whatsapp.sent).to.deep.equal([
      { id: written[0]!.id, complaintId: complaintIds[0], channel: 'whatsapp', contact: PHONE, message: written[0]!.message, workOrderCode: order.code },
    ]);
    expect(others.sent.map((notification) => notification.channel)).to.deep.equal(['call_center']);
    for (const row of written) {
      expect(row).to.include({ status: 'sent', attempts: 1, last_error: null });
      expect((row.sent_at as Date).getTime()).to.equal(nowMs);
    }
    expect(entries.filter((entry) => entry.msg === 'complainant notifications processed')).to.have.length(1);

    expect(await delivering.sendPending()).to.deep.equal({ sent: 0, failed: 0, retried: 0 });
    expect(whatsapp.attempted.length + others.attempted.length).to.equal(2);
  });

  it('retries a failing channel with backoff and gives up at maxAttempts, while the other channels are sent', async () => {
    await notified(['whatsapp', 'call_center', 'web']);
    const refusing = new RecordingAdapter(['whatsapp'], async (notification) => {
      throw new Error(`gateway refused ${notification.contact}`);
    });
    const others = new RecordingAdapter();
    let nowMs = Date.now() + 1000;
    const { log, entries } = capturingLogger();
    const retrying = sender({ adapters: [refusing, others], clock: () => nowMs, log, maxAttempts: 3, firstRetryDelayMs: 1000 });
    const whatsappRow = async () => (await rows("channel = 'whatsapp'"))[0]!;

    expect(await retrying.sendPending()).to.deep.equal({ sent: 2, failed: 0, retried: 1 });
    expect(others.sent.map((notification) => notification.channel)).to.have.members(['call_center', 'web']);
    let row = await whatsappRow();
    expect(row).to.include({ status: 'pending', attempts: 1, last_error: 'gateway refused ***7890' });
    expect((row.next_attempt_at as Date).getTime()).to.equal(nowMs + 1000);

    // Not due yet: nothing is tried.
    expect(await retrying.sendPending()).to.deep.equal({ sent: 0, failed: 0, retried: 0 });
    expect(refusing.attempted).to.have.length(1);

    nowMs += 1000;
    expect(await retrying.sendPending()).to.deep.equal({ sent: 0, failed: 0, retried: 1 });
    row = await whatsappRow();
    expect(row).to.include({ status: 'pending', attempts: 2 });
    expect((row.next_attempt_at as Date).getTime()).to.equal(nowMs + 2000);

    nowMs += 2000;
    expect(await retrying.sendPending()).to.deep.equal({ sent: 0, failed: 1, retried: 0 });
    expect(await whatsappRow()).to.include({ status: 'failed', attempts: 3, last_error: 'gateway refused ***7890', sent_at: null });
    const givenUp = entries.filter((entry) => entry.msg === 'complainant notification given up');
    expect(givenUp).to.have.length(1);
    expect(givenUp[0]).to.include({ level: 40, channel: 'whatsapp', attempts: 3 });

    nowMs += 3_600_000;
    expect(await retrying.sendPending()).to.deep.equal({ sent: 0, failed: 0, retried: 0 });
    expect(refusing.attempted).to.have.length(3);
    expect(JSON.stringify(entries)).to.not.contain(PHONE);
  });

  it('counts a send that never answers as failed, and retries it', async () => {
    await notified(['whatsapp']);
    const hanging = new RecordingAdapter(['whatsapp'], () => new Promise<void>(() => undefined));
    const result = await sender({ adapters: [hanging], sendTimeoutMs: 50 }).sendPending();
    expect(result).to.deep.equal({ sent: 0, failed: 0, retried: 1 });
    expect((await rows())[0]).to.include({ status: 'pending', attempts: 1, last_error: 'no answer within 50 ms' });
  });

  it('keeps the notifications of a channel no adapter serves pending, warning once', async () => {
    await notified(['whatsapp', 'call_center']);
    const { log, entries } = capturingLogger();
    const whatsappOnly = sender({ adapters: [new RecordingAdapter(['whatsapp'])], log });
    expect(await whatsappOnly.sendPending()).to.deep.equal({ sent: 1, failed: 0, retried: 0 });
    expect(await whatsappOnly.sendPending()).to.deep.equal({ sent: 0, failed: 0, retried: 0 });
    expect((await rows("channel = 'call_center'"))[0]).to.include({ status: 'pending', attempts: 0 });
    const warnings = entries.filter((entry) => entry.level === 40);
    expect(warnings.map((entry) => entry.channel)).to.deep.equal(['call_center']);
  });

  it('delivers each notification exactly once with two senders running side by side', async () => {
    const channels = Array.from({ length: 36 }, (_, index) => complaintChannels[index % complaintChannels.length]!);
    await notified(channels);
    // Sends take a few milliseconds, so the two senders' batches overlap.
    const slow = () => new RecordingAdapter(complaintChannels, () => new Promise((resolve) => setTimeout(resolve, Math.random() * 5)));
    const first = slow();
    const second = slow();
    const senders = [sender({ adapters: [first] }), sender({ adapters: [second] })];
    for (const running of senders) running.start();
    try {
      await waitFor('every notification sent', async () => ((await rows("status <> 'sent'")).length === 0 ? true : undefined));
    } finally {
      await Promise.all(senders.map((running) => running.stop()));
    }
    const delivered = [...first.sent, ...second.sent].map((notification) => notification.id);
    expect(delivered).to.have.length(36);
    expect(new Set(delivered).size).to.equal(36);
    expect((await rows()).every((row) => row.attempts === 1)).to.equal(true);
  });

  it('stop() waits for the send in flight, which is then recorded', async () => {
    await notified(['whatsapp']);
    let release!: () => void;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    const holding = new RecordingAdapter(complaintChannels, () => held);
    const running = sender({ adapters: [holding] });
    running.start();
    await waitFor('the send to start', async () => (holding.attempted.length > 0 ? true : undefined));
    let stopped = false;
    const stopping = running.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(stopped).to.equal(false);
    release();
    await stopping;
    expect((await rows())[0]).to.include({ status: 'sent', attempts: 1 });
  });
});
