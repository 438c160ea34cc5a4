// Commands to PLCs over MQTT: a write request on tirta/v1/{site}/{device}/command is validated,
// carried out by the connector that owns the device, and answered on .../command/result with
// its outcome, so that an operator's command and its result are both on record.
import mqtt, { type MqttClient } from 'mqtt';
import { commandSchema, topics, type CommandResult } from '../src/contracts/telemetry.js';
import type { Logger } from '../src/log.js';
import type { Clock, Connector } from './connector.js';

export class CommandListener {
  private client: MqttClient | undefined;
  private readonly owners = new Map<string, Connector>();

  constructor(
    private readonly options: { url: string; site: string; connectorId: string; connectors: readonly Connector[]; log: Logger; clock?: Clock },
  ) {
    for (const connector of options.connectors) for (const device of connector.devices) this.owners.set(device, connector);
  }

  async start(): Promise<void> {
    const client = mqtt.connect(this.options.url, { clientId: `tirta-commands-${this.options.site}-${this.options.connectorId}`, reconnectPeriod: 1000 });
    this.client = client;
    const subscriptions = [...this.owners.keys()].map((device) => topics.command(this.options.site, device));
    client.on('connect', () => {
      client.subscribe(subscriptions, { qos: 1 }, (error) => {
        if (error) this.options.log.error({ err: error }, 'cannot subscribe to command topics');
      });
    });
    client.on('error', (error) => this.options.log.warn({ err: error }, 'command connection error'));
    client.on('message', (topic, payload) => void this.handle(topic, payload));
    // Polling and store-and-forward must start during a broker outage too: commands are taken once
    // the broker is back, so an unreachable broker ends the wait rather than the start.
    await new Promise<void>((resolve) => {
      client.once('connect', () => resolve());
      client.once('error', () => resolve());
      client.once('offline', () => resolve());
    });
  }

  async stop(): Promise<void> {
    await this.client?.endAsync();
  }

  private async handle(topic: string, payload: Buffer): Promise<void> {
    const device = topic.split('/').at(-2)!;
    const now = this.options.clock ?? Date.now;
    let json: unknown;
    try {
      json = JSON.parse(payload.toString('utf8'));
    } catch {
      return this.answer(device, { id: null, tag: null, ok: false, error: 'payload is not JSON', ts_ms: now() });
    }
    const parsed = commandSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const partial = json as { id?: unknown; tag?: unknown };
      return this.answer(device, {
        id: typeof partial?.id === 'string' ? partial.id : null,
        tag: typeof partial?.tag === 'string' ? partial.tag : null,
        ok: false,
        error: `${issue.path.join('.') || 'payload'}: ${issue.message}`,
        ts_ms: now(),
      });
    }
    const command = parsed.data;
    const owner = this.owners.get(device)!;
    try {
      await owner.write(command.tag, command.value);
      this.options.log.info({ device, tag: command.tag, value: command.value, command: command.id }, 'command written');
      this.answer(device, { id: command.id, tag: command.tag, ok: true, ts_ms: now() });
    } catch (error) {
      this.options.log.warn({ err: error, device, tag: command.tag, command: command.id }, 'command failed');
      this.answer(device, { id: command.id, tag: command.tag, ok: false, error: (error as Error).message, ts_ms: now() });
    }
  }

  private answer(device: string, result: CommandResult): void {
    this.client?.publish(topics.commandResult(this.options.site, device), JSON.stringify(result), { qos: 1 });
  }
}
