// Polls one Modbus device: each poll group on its own interval, every request of the device
// through one link queue (one request in flight), values decoded by the pure codec and
// delivered with quality. A failed read yields bad samples with a null value, never the
// last good value.
import type { ModbusDevice, Tag } from '../../src/contracts/site.js';
import type { Sample } from '../../src/contracts/telemetry.js';
import type { Logger } from '../../src/log.js';
import type { Clock, DeviceConnector, TelemetrySink } from '../connector.js';
import { ModbusClient } from './modbus-client.js';
import { decodeValue } from '../../src/contracts/modbus-registers.js';
import { planRequests, type ReadRequest } from './request-plan.js';

/** Source status for a failure that is not a Modbus exception (timeout, refused, closed link). */
export const LINK_FAILURE_STATUS = -1;

interface ModbusFailure extends Error {
  modbusCode?: number;
}

export class ModbusConnector implements DeviceConnector {
  readonly device: string;
  private readonly client = new ModbusClient();
  private readonly plans: Array<{ intervalMs: number; requests: ReadRequest[]; timer?: NodeJS.Timeout; running?: Promise<void> }>;
  private linkQueue: Promise<unknown> = Promise.resolve();
  private connecting: Promise<void> | undefined;
  private online: boolean | undefined;
  private stopped = false;
  private reconnectAtMs = 0;
  private reconnectDelayMs = 500;

  constructor(
    private readonly config: ModbusDevice,
    tags: readonly Tag[],
    private readonly sink: TelemetrySink,
    private readonly log: Logger,
    private readonly clock: Clock = Date.now,
  ) {
    this.device = config.id;
    this.plans = config.poll_groups.map((group) => ({
      intervalMs: group.interval_ms,
      requests: planRequests(
        tags.filter((tag) => tag.device === config.id && tag.poll_group === group.id),
        {
          maxRegisters: config.max_registers_per_read,
          maxBits: config.max_bits_per_read,
          maxGapRegisters: config.max_gap_registers,
          addressing: config.addressing,
        },
      ),
    }));
    this.client.on('error', (error: unknown) => this.log.debug({ err: error }, 'modbus link error'));
  }

  /** Reads per cycle of each poll group, as planned. */
  get requestsPerCycle(): number[] {
    return this.plans.map((plan) => plan.requests.length);
  }

  start(): void {
    for (const plan of this.plans) {
      if (plan.requests.length === 0) continue;
      const tick = () => {
        // A cycle still running when the next is due is skipped rather than queued behind it.
        if (this.stopped || plan.running) return;
        plan.running = this.pollCycle(plan.requests).finally(() => {
          plan.running = undefined;
        });
      };
      tick();
      plan.timer = setInterval(tick, plan.intervalMs);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const plan of this.plans) clearInterval(plan.timer);
    await Promise.allSettled(this.plans.map((plan) => plan.running));
    await new Promise<void>((resolve) => {
      if (!this.client.isOpen) return resolve();
      this.client.close(() => resolve());
    });
  }

  private async pollCycle(requests: readonly ReadRequest[]): Promise<void> {
    const pollTsMs = this.clock();
    const samples: Sample[] = [];
    let linkFailed = false;
    for (const request of requests) {
      if (linkFailed || this.stopped) {
        // The link is down: the rest of this cycle's requests would only time out too.
        samples.push(...badSamples(request, pollTsMs, LINK_FAILURE_STATUS));
        continue;
      }
      try {
        const words = await this.enqueue(() => this.read(request));
        for (const planned of request.tags) {
          const slice = words.slice(planned.offset, planned.offset + planned.count);
          samples.push({ tag: planned.tag.id, value: decodeValue(slice, planned.tag.modbus), quality: 'good', source_ts_ms: pollTsMs });
        }
        this.setOnline(true);
      } catch (error) {
        const code = (error as ModbusFailure).modbusCode;
        samples.push(...badSamples(request, pollTsMs, code ?? LINK_FAILURE_STATUS));
        if (code === undefined) {
          linkFailed = true;
          this.setOnline(false, (error as Error).message);
          this.client.close(() => undefined);
        } else {
          this.log.warn({ device: this.device, table: request.table, start: request.start, count: request.count, modbusCode: code }, 'modbus exception');
        }
      }
    }
    if (samples.length > 0) this.sink.deliver({ device: this.device, pollTsMs, samples });
  }

  /** One request in flight per link: every read and write goes through this queue. */
  private enqueue<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.linkQueue.then(operation, operation);
    this.linkQueue = result.catch(() => undefined);
    return result;
  }

  private async read(request: ReadRequest): Promise<number[]> {
    await this.ensureConnected();
    switch (request.table) {
      case 'coil':
        return (await this.client.readCoils(request.start, request.count)).data.slice(0, request.count).map(Number);
      case 'discrete_input':
        return (await this.client.readDiscreteInputs(request.start, request.count)).data.slice(0, request.count).map(Number);
      case 'holding_register':
        return (await this.client.readHoldingRegisters(request.start, request.count)).data;
      case 'input_register':
        return (await this.client.readInputRegisters(request.start, request.count)).data;
    }
  }

  private async ensureConnected(): Promise<void> {
    if (this.client.isOpen) return;
    const now = this.clock();
    if (now < this.reconnectAtMs) throw new Error(`reconnect backoff: next attempt in ${this.reconnectAtMs - now} ms`);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    await this.connecting;
  }

  private async connect(): Promise<void> {
    const endpoint = new URL(this.config.endpoint);
    try {
      if (endpoint.protocol === 'tcp:') {
        await this.client.connectTCP(endpoint.hostname, { port: Number(endpoint.port) });
      } else if (endpoint.protocol === 'rtu-over-tcp:') {
        await this.client.connectTcpRTUBuffered(endpoint.hostname, { port: Number(endpoint.port) });
      } else {
        throw new Error(`endpoint ${this.config.endpoint}: serial RTU links are not supported by this build`);
      }
      this.client.setID(this.config.unit_id);
      this.client.setTimeout(this.config.timeout_ms);
      this.reconnectDelayMs = 500;
    } catch (error) {
      // Exponential backoff with jitter, capped, so a dead PLC is not hammered.
      this.reconnectAtMs = this.clock() + this.reconnectDelayMs * (0.5 + Math.random() / 2);
      this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, 30_000);
      throw error;
    }
  }

  private setOnline(online: boolean, reason?: string): void {
    if (this.online === online) return;
    this.online = online;
    if (online) this.log.info({ device: this.device }, 'device online');
    else this.log.warn({ device: this.device, reason }, 'device offline');
    this.sink.deviceState(this.device, online ? 'online' : 'offline', reason);
  }
}

function badSamples(request: ReadRequest, pollTsMs: number, status: number): Sample[] {
  return request.tags.map((planned) => ({ tag: planned.tag.id, value: null, quality: 'bad', source_status: status, source_ts_ms: pollTsMs }));
}
