// The channel adapter contract, run against every adapter that serves all channels (the logging
// adapter that ships, and the recording adapter tests use), and the pure core of the sender:
// message text, contact redaction, backoff and the fate of a row after an attempt.
import { expect } from 'chai';
import { pino } from 'pino';
import { complaintChannels } from '../../src/contracts/complaint.js';
import { silentLogger } from '../../src/log.js';
import {
  adapterByChannel,
  afterAttempt,
  completionMessage,
  LoggingChannelAdapter,
  redactContact,
  retryDelayMs,
  type ChannelAdapter,
  type OutgoingNotification,
} from '../../src/workorders/notifications.js';

class RecordingChannelAdapter implements ChannelAdapter {
  readonly channels: readonly string[] = complaintChannels;
  readonly sent: OutgoingNotification[] = [];

  async send(notification: OutgoingNotification): Promise<void> {
    this.sent.push(notification);
  }
}

const notificationOn = (channel: string): OutgoingNotification => ({
  id: '17',
  complaintId: '6f1c2d1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f',
  channel,
  contact: '+6281234567890',
  message: completionMessage('no_water', 'WO-1001'),
  workOrderCode: 'WO-1001',
});

/**
 * What every adapter promises: it names the complaint channels it serves, each once, and a send
 * on each of them resolves. `serves` is what this adapter is expected to serve.
 */
function channelAdapterContract(name: string, create: () => ChannelAdapter, serves: readonly string[]): void {
  describe(`channel adapter contract: ${name}`, () => {
    it('serves complaint channels only, each once', () => {
      const { channels } = create();
      expect(complaintChannels).to.include.members([...channels]);
      expect(new Set(channels).size).to.equal(channels.length);
      expect([...channels]).to.have.members([...serves]);
    });

    for (const channel of serves) {
      it(`sends on ${channel} without throwing`, async () => {
        await create().send(notificationOn(channel));
      });
    }
  });
}

channelAdapterContract('LoggingChannelAdapter', () => new LoggingChannelAdapter(silentLogger), complaintChannels);
channelAdapterContract('recording test adapter', () => new RecordingChannelAdapter(), complaintChannels);

describe('logging channel adapter', () => {
  it('logs the complaint, channel and work order at info, with only the last 4 characters of the contact', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    await new LoggingChannelAdapter(log).send(notificationOn('whatsapp'));
    expect(lines).to.have.length(1);
    const entry = JSON.parse(lines[0]!);
    expect(entry).to.include({ level: 30, complaint: '6f1c2d1e-3a4b-4c5d-8e9f-0a1b2c3d4e5f', channel: 'whatsapp', work_order: 'WO-1001', contact: '***7890' });
    expect(lines[0]).to.not.contain('81234567890');
  });
});

describe('complainant notification core', () => {
  it('words the message plainly, naming the problem and the work order', () => {
    expect(completionMessage('no_water', 'WO-1001')).to.equal('Tirta: the problem you reported (no water) has been repaired. Work order WO-1001 completed. Thank you.');
    expect(completionMessage('leak_burst', 'WO-7')).to.contain('(leak or burst pipe)');
    expect(completionMessage('other', 'WO-7')).to.equal('Tirta: the problem you reported has been repaired. Work order WO-7 completed. Thank you.');
    expect(completionMessage('meter_stuck', 'WO-7')).to.contain('(meter stuck)');
  });

  it('redacts a contact to its last 4 characters, and a short one entirely', () => {
    expect(redactContact('+6281234567890')).to.equal('***7890');
    expect(redactContact('budi@example.id')).to.equal('***e.id');
    expect(redactContact('1234')).to.equal('****');
  });

  it('doubles the retry delay after each failure, up to the cap', () => {
    expect([1, 2, 3, 4, 5, 6].map((attempts) => retryDelayMs(attempts, 30_000, 200_000))).to.deep.equal([30_000, 60_000, 120_000, 200_000, 200_000, 200_000]);
  });

  it('marks a row sent, retried after the backoff, or failed at maxAttempts', () => {
    const policy = { nowMs: 1_000_000, maxAttempts: 3, firstRetryDelayMs: 1_000, maxRetryDelayMs: 60_000 };
    expect(afterAttempt(0, null, policy)).to.deep.equal({ status: 'sent', attempts: 1 });
    expect(afterAttempt(0, 'timeout', policy)).to.deep.equal({ status: 'pending', attempts: 1, error: 'timeout', nextAttemptAtMs: 1_001_000 });
    expect(afterAttempt(1, 'timeout', policy)).to.deep.equal({ status: 'pending', attempts: 2, error: 'timeout', nextAttemptAtMs: 1_002_000 });
    expect(afterAttempt(2, 'timeout', policy)).to.deep.equal({ status: 'failed', attempts: 3, error: 'timeout' });
    expect(afterAttempt(2, null, policy)).to.deep.equal({ status: 'sent', attempts: 3 });
  });

  it('gives each channel to the first adapter serving it', () => {
    const whatsapp: ChannelAdapter = { channels: ['whatsapp'], send: async () => undefined };
    const logging = new LoggingChannelAdapter(silentLogger);
    const byChannel = adapterByChannel([whatsapp, logging]);
    expect(byChannel.get('whatsapp')).to.equal(whatsapp);
    expect(byChannel.get('call_center')).to.equal(logging);
    expect([...byChannel.keys()]).to.have.members([...complaintChannels]);
  });
});
