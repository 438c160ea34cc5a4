// Complainants' notifications. When an incident's order completes, the completing transaction
// writes one complaint_notification row per complaint and channel, so a notification exists
// exactly when the completion committed. A sender then delivers pending rows through the channel
// adapter serving their channel (the logging adapter ships; WhatsApp or SMS adapters plug in),
// retrying failures with exponential backoff until maxAttempts, when the row becomes 'failed'.
//
// Delivery is at least once: rows are claimed with FOR UPDATE SKIP LOCKED, so several engine
// processes never send the same row at the same time, and a row is marked sent in the claiming
// transaction; a process that dies before that commit leaves its batch pending, to be sent again.
import type pg from 'pg';
import { complaintChannels, type ComplaintCategory } from '../contracts/complaint.js';
import type { Logger } from '../log.js';
import { PollingLoop } from '../polling-loop.js';

/** What an adapter is given to send: the text is final, the contact is the complainant's. */
export interface OutgoingNotification {
  id: string;
  complaintId: string;
  channel: string;
  contact: string;
  message: string;
  workOrderCode: string;
}

/**
 * Delivers notifications on some complaint channels. `send` resolves once the channel accepted
 * the message and rejects when it did not; a rejected send is retried later.
 */
export interface ChannelAdapter {
  /** The complaint channels this adapter serves. */
  readonly channels: readonly string[];
  send(notification: OutgoingNotification): Promise<void>;
}

/** Writes each notification to the log instead of sending it: every channel, nothing leaves the service. */
export class LoggingChannelAdapter implements ChannelAdapter {
  readonly channels: readonly string[] = complaintChannels;

  constructor(private readonly log: Logger) {}

  async send(notification: OutgoingNotification): Promise<void> {
    this.log.info(
      {
        notification: notification.id,
        complaint: notification.complaintId,
        channel: notification.channel,
        work_order: notification.workOrderCode,
        contact: redactContact(notification.contact),
        message: notification.message,
      },
      'complainant notification (logged, not sent)',
    );
  }
}

// ---- pure core ------------------------------------------------------------------------------

const CATEGORY_WORDS: Record<ComplaintCategory, string | null> = {
  no_water: 'no water',
  low_pressure: 'low pressure',
  leak_burst: 'leak or burst pipe',
  water_quality: 'water quality',
  other: null,
};

/** The text a complainant receives: short and plain, since it may arrive as an SMS. */
export function completionMessage(category: string, workOrderCode: string): string {
  const words = category in CATEGORY_WORDS ? CATEGORY_WORDS[category as ComplaintCategory] : category.replaceAll('_', ' ');
  const problem = words === null ? 'the problem you reported' : `the problem you reported (${words})`;
  return `Tirta: ${problem} has been repaired. Work order ${workOrderCode} completed. Thank you.`;
}

/** A contact as logs may show it: its last 4 characters only, and nothing of one that short. */
export function redactContact(contact: string): string {
  return contact.length <= 4 ? '****' : `***${contact.slice(-4)}`;
}

/** Wait before the next attempt after `attempts` failed ones: doubling from the first delay, capped. */
export function retryDelayMs(attempts: number, firstRetryDelayMs: number, maxRetryDelayMs: number): number {
  return Math.min(maxRetryDelayMs, firstRetryDelayMs * 2 ** Math.max(0, attempts - 1));
}

export type AttemptOutcome =
  | { status: 'sent'; attempts: number }
  | { status: 'pending'; attempts: number; nextAttemptAtMs: number; error: string }
  | { status: 'failed'; attempts: number; error: string };

/** Where a row goes after one more attempt. */
export function afterAttempt(
  previousAttempts: number,
  error: string | null,
  policy: { nowMs: number; maxAttempts: number; firstRetryDelayMs: number; maxRetryDelayMs: number },
): AttemptOutcome {
  const attempts = previousAttempts + 1;
  if (error === null) return { status: 'sent', attempts };
  if (attempts >= policy.maxAttempts) return { status: 'failed', attempts, error };
  return { status: 'pending', attempts, error, nextAttemptAtMs: policy.nowMs + retryDelayMs(attempts, policy.firstRetryDelayMs, policy.maxRetryDelayMs) };
}

/** The first adapter serving a channel serves it, so a specific adapter listed before the logging one takes its channels. */
export function adapterByChannel(adapters: readonly ChannelAdapter[]): Map<string, ChannelAdapter> {
  const byChannel = new Map<string, ChannelAdapter>();
  for (const adapter of adapters) for (const channel of adapter.channels) if (!byChannel.has(channel)) byChannel.set(channel, adapter);
  return byChannel;
}

// ---- recording, in the completing transaction ----------------------------------------------

export interface CompletedOrder {
  id: string;
  code: string;
  incidentId: string | null;
}

/**
 * Records the notifications of a completed order: one row per complaint of its incident (the
 * incident's complaint_ids, and complaints naming the incident or an incident merged into it) on
 * the complaint's channel. A complaint without contact is recorded as 'no_contact'. A complaint
 * already notified on its channel (an order reopened and completed again) is not recorded again.
 * Call it inside the transaction completing the order. Returns the rows written.
 */
export async function recordCompletionNotifications(
  client: pg.PoolClient,
  siteId: string,
  order: CompletedOrder,
): Promise<number> {
  if (order.incidentId === null) return 0;
  const { rows } = await client.query<{ id: string; channel: string; category: string; contact: string | null }>(
    `WITH RECURSIVE family AS (
       SELECT id, complaint_ids FROM incident WHERE id = $2 AND site_id = $1
       UNION
       SELECT merged.id, merged.complaint_ids FROM incident merged JOIN family ON merged.merged_into = family.id
     )
     SELECT c.id::text AS id, c.channel, c.category, c.contact FROM complaint c
     WHERE c.site_id = $1
       AND (c.incident_id IN (SELECT id FROM family) OR c.id::text IN (SELECT unnest(complaint_ids) FROM family))
     ORDER BY c.seq`,
    [siteId, order.incidentId],
  );
  if (rows.length === 0) return 0;
  const contacts = rows.map((row) => (row.contact === null || row.contact.trim() === '' ? null : row.contact.trim()));
  const result = await client.query(
    `INSERT INTO complaint_notification (site_id, complaint_id, work_order_id, channel, contact, message, status)
     SELECT $1, complaint_id, $2, channel, contact, message, CASE WHEN contact IS NULL THEN 'no_contact' ELSE 'pending' END
     FROM unnest($3::uuid[], $4::text[], $5::text[], $6::text[]) AS row (complaint_id, channel, contact, message)
     ON CONFLICT (complaint_id, channel) DO NOTHING`,
    [siteId, order.id, rows.map((row) => row.id), rows.map((row) => row.channel), contacts, rows.map((row) => completionMessage(row.category, order.code))],
  );
  return result.rowCount ?? 0;
}

// ---- sending -------------------------------------------------------------------------------

/** Rows per claiming transaction: a crash re-sends at most this many, and locks stay short. */
const BATCH_SIZE = 10;
const MAX_ERROR_LENGTH = 500;

export interface NotificationSenderOptions {
  pool: pg.Pool;
  /** In order of precedence: the first adapter serving a channel sends its rows. */
  adapters: readonly ChannelAdapter[];
  log: Logger;
  pollIntervalMs?: number;
  /** Attempts before a row is given up as 'failed'. */
  maxAttempts?: number;
  firstRetryDelayMs?: number;
  maxRetryDelayMs?: number;
  /** A send still unanswered after this long counts as failed (it may still arrive: at least once). */
  sendTimeoutMs?: number;
  clock?: () => number;
}

export interface SendReport {
  sent: number;
  /** Given up: maxAttempts reached. */
  failed: number;
  /** Failed, to be tried again after the backoff. */
  retried: number;
}

interface ClaimedRow {
  id: string;
  complaint_id: string;
  channel: string;
  contact: string | null;
  message: string;
  attempts: number;
  work_order_code: string;
}

export class NotificationSender {
  private readonly adapters: Map<string, ChannelAdapter>;
  private readonly clock: () => number;
  private readonly policy: { maxAttempts: number; firstRetryDelayMs: number; maxRetryDelayMs: number };
  /** Channels already reported as having no adapter: warned once, not at every poll. */
  private readonly unservedWarned = new Set<string>();
  private readonly loop: PollingLoop;
  private stopped = false;

  constructor(private readonly options: NotificationSenderOptions) {
    this.adapters = adapterByChannel(options.adapters);
    this.clock = options.clock ?? Date.now;
    this.policy = {
      maxAttempts: options.maxAttempts ?? 5,
      firstRetryDelayMs: options.firstRetryDelayMs ?? 30_000,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 3_600_000,
    };
    this.loop = new PollingLoop(() => this.sendPending(), {
      intervalMs: options.pollIntervalMs ?? 5_000,
      onError: (error) => options.log.warn({ err: error }, 'complainant notifications cannot be sent now; retrying'),
    });
  }

  start(): void {
    this.stopped = false;
    this.loop.start();
  }

  /** Stops polling; resolves once the batch in flight is sent and recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop.stop();
  }

  /** Sends every row due now, batch after batch; returns what became of them. */
  async sendPending(): Promise<SendReport> {
    await this.warnUnservedChannels();
    const total: SendReport = { sent: 0, failed: 0, retried: 0 };
    for (;;) {
      const { claimed, report } = await this.sendBatch();
      total.sent += report.sent;
      total.failed += report.failed;
      total.retried += report.retried;
      if (claimed < BATCH_SIZE || this.stopped) break;
    }
    if (total.sent + total.failed + total.retried > 0) this.options.log.info(total, 'complainant notifications processed');
    return total;
  }

  private async sendBatch(): Promise<{ claimed: number; report: SendReport }> {
    const report: SendReport = { sent: 0, failed: 0, retried: 0 };
    const client = await this.options.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows } = await client.query<ClaimedRow>(
        `SELECT n.id::text AS id, n.complaint_id::text AS complaint_id, n.channel, n.contact, n.message, n.attempts, w.code AS work_order_code
         FROM complaint_notification n JOIN work_order w ON w.id = n.work_order_id
         WHERE n.status = 'pending' AND n.next_attempt_at <= $1 AND n.channel = ANY($2::text[])
         ORDER BY n.next_attempt_at, n.id
         LIMIT $3
         FOR UPDATE OF n SKIP LOCKED`,
        [new Date(this.clock()), [...this.adapters.keys()], BATCH_SIZE],
      );
      // Channels send side by side, so a slow or failing channel does not hold back the others.
      const byChannel = new Map<string, ClaimedRow[]>();
      for (const row of rows) byChannel.set(row.channel, [...(byChannel.get(row.channel) ?? []), row]);
      const outcomes = (await Promise.all([...byChannel].map(([channel, channelRows]) => this.sendChannel(this.adapters.get(channel)!, channelRows)))).flat();
      for (const { row, outcome } of outcomes) {
        await this.record(client, row, outcome);
        if (outcome === 'no_contact') continue;
        if (outcome.status === 'sent') report.sent += 1;
        else if (outcome.status === 'failed') report.failed += 1;
        else report.retried += 1;
      }
      await client.query('COMMIT');
      return { claimed: rows.length, report };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async sendChannel(adapter: ChannelAdapter, rows: readonly ClaimedRow[]): Promise<Array<{ row: ClaimedRow; outcome: AttemptOutcome | 'no_contact' }>> {
    const outcomes: Array<{ row: ClaimedRow; outcome: AttemptOutcome | 'no_contact' }> = [];
    for (const row of rows) {
      // Rows are written with a contact or as 'no_contact'; one edited by hand may lack it.
      if (row.contact === null || row.contact.trim() === '') {
        outcomes.push({ row, outcome: 'no_contact' });
        continue;
      }
      const error = await this.attempt(adapter, {
        id: row.id,
        complaintId: row.complaint_id,
        channel: row.channel,
        contact: row.contact,
        message: row.message,
        workOrderCode: row.work_order_code,
      });
      outcomes.push({ row, outcome: afterAttempt(row.attempts, error, { nowMs: this.clock(), ...this.policy }) });
    }
    return outcomes;
  }

  /** One send; the error text when it failed, else null. */
  private async attempt(adapter: ChannelAdapter, notification: OutgoingNotification): Promise<string | null> {
    const timeoutMs = this.options.sendTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        // An adapter throwing instead of rejecting fails this send only.
        Promise.resolve().then(() => adapter.send(notification)),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return null;
    } catch (error) {
      // The adapter's error may quote the contact; neither the log nor the row keeps it.
      const text = error instanceof Error ? error.message : String(error);
      return text.replaceAll(notification.contact, redactContact(notification.contact)).slice(0, MAX_ERROR_LENGTH) || 'send failed';
    } finally {
      clearTimeout(timer);
    }
  }

  private async record(client: pg.PoolClient, row: ClaimedRow, outcome: AttemptOutcome | 'no_contact'): Promise<void> {
    const log = this.options.log;
    const context = { notification: row.id, complaint: row.complaint_id, channel: row.channel, work_order: row.work_order_code };
    if (outcome === 'no_contact') {
      await client.query(`UPDATE complaint_notification SET status = 'no_contact' WHERE id = $1`, [row.id]);
      return;
    }
    const at = new Date(this.clock());
    switch (outcome.status) {
      case 'sent':
        await client.query(`UPDATE complaint_notification SET status = 'sent', attempts = $2, sent_at = $3 WHERE id = $1`, [row.id, outcome.attempts, at]);
        return;
      case 'pending': {
        const nextAttemptAt = new Date(outcome.nextAttemptAtMs);
        await client.query('UPDATE complaint_notification SET attempts = $2, last_error = $3, next_attempt_at = $4 WHERE id = $1', [row.id, outcome.attempts, outcome.error, nextAttemptAt]);
        log.info({ ...context, attempts: outcome.attempts, error: outcome.error, next_attempt_at: nextAttemptAt.toISOString() }, 'complainant notification not sent; will retry');
        return;
      }
      case 'failed':
        await client.query(`UPDATE complaint_notification SET status = 'failed', attempts = $2, last_error = $3 WHERE id = $1`, [row.id, outcome.attempts, outcome.error]);
        log.warn({ ...context, attempts: outcome.attempts, error: outcome.error }, 'complainant notification given up');
    }
  }

  private async warnUnservedChannels(): Promise<void> {
    const { rows } = await this.options.pool.query<{ channel: string }>(
      `SELECT DISTINCT channel FROM complaint_notification WHERE status = 'pending' AND NOT (channel = ANY($1::text[]))`,
      [[...this.adapters.keys()]],
    );
    for (const { channel } of rows) {
      if (this.unservedWarned.has(channel)) continue;
      this.unservedWarned.add(channel);
      this.options.log.warn({ channel }, 'no adapter serves this channel: its complainant notifications stay pending');
    }
  }
}
