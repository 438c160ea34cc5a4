// One physical Modbus link (a TCP connection to a PLC or gateway, or a serial bus) and the one
// queue every request on it goes through: at most `max_requests_in_flight` at once (1 by
// default, as RTU buses and most gateways require), an optional pause after each response, and
// reconnection with exponential backoff and jitter. The link owns its connection's lifecycle;
// the unit id travels with each request, so any number of units share it.
import type { ModbusDevice } from '../../src/contracts/site.js';
import type { Clock } from '../connector.js';
import { ModbusClient } from './modbus-client.js';

export type FailureKind = 'timeout' | 'exception' | 'connection' | 'other';

export class ModbusRequestError extends Error {
  constructor(
    readonly kind: FailureKind,
    message: string,
    /** The Modbus exception code, for kind `exception`. */
    readonly exceptionCode?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ModbusRequestError';
  }
}

/** Gateway exceptions 0A and 0B say the unit behind the gateway is unreachable, not the address. */
export const GATEWAY_EXCEPTIONS: ReadonlySet<number> = new Set([0x0a, 0x0b]);

type Callback<T> = (error: (NodeJS.ErrnoException & { modbusCode?: number }) | null, result: T) => void;

export interface LinkOptions {
  endpoint: string;
  settings: ModbusDevice['link'];
  backoff: ModbusDevice['backoff'];
  timeoutMs: number;
  clock: Clock;
  random?: () => number;
}

export class ModbusLink {
  private readonly client = new ModbusClient();
  private readonly waiting: Array<() => void> = [];
  private inFlight = 0;
  private connecting: Promise<void> | undefined;
  private reconnectAtMs = 0;
  private reconnectDelayMs: number;
  private closed = false;
  private readonly random: () => number;

  constructor(private readonly options: LinkOptions) {
    this.reconnectDelayMs = options.backoff.initial_ms;
    this.random = options.random ?? Math.random;
    // Errors also reach the pending request; this keeps an 'error' event from being unhandled.
    this.client.on('error', () => undefined);
  }

  get connected(): boolean {
    return this.client.isOpen;
  }

  /** Requests waiting for a slot on the link. */
  get queueDepth(): number {
    return this.waiting.length;
  }

  readCoils(unit: number, start: number, count: number): Promise<number[]> {
    return this.request((callback: Callback<{ data: boolean[] }>) => this.client.writeFC1(unit, start, count, callback)).then((result) => result.data.slice(0, count).map(Number));
  }

  readDiscreteInputs(unit: number, start: number, count: number): Promise<number[]> {
    return this.request((callback: Callback<{ data: boolean[] }>) => this.client.writeFC2(unit, start, count, callback)).then((result) => result.data.slice(0, count).map(Number));
  }

  readHoldingRegisters(unit: number, start: number, count: number): Promise<number[]> {
    return this.request((callback: Callback<{ data: number[] }>) => this.client.writeFC3(unit, start, count, callback)).then((result) => result.data);
  }

  readInputRegisters(unit: number, start: number, count: number): Promise<number[]> {
    return this.request((callback: Callback<{ data: number[] }>) => this.client.writeFC4(unit, start, count, callback)).then((result) => result.data);
  }

  writeCoil(unit: number, address: number, on: boolean): Promise<void> {
    return this.request((callback: Callback<unknown>) => this.client.writeFC5(unit, address, on, callback)).then(() => undefined);
  }

  writeCoils(unit: number, start: number, values: boolean[]): Promise<void> {
    return this.request((callback: Callback<unknown>) => this.client.writeFC15(unit, start, values, callback)).then(() => undefined);
  }

  writeRegister(unit: number, address: number, value: number): Promise<void> {
    return this.request((callback: Callback<unknown>) => this.client.writeFC6(unit, address, value, callback)).then(() => undefined);
  }

  writeRegisters(unit: number, start: number, values: number[]): Promise<void> {
    return this.request((callback: Callback<unknown>) => this.client.writeFC16(unit, start, values, callback)).then(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await new Promise<void>((resolve) => {
      if (!this.client.isOpen) return resolve();
      this.client.close(() => resolve());
    });
  }

  private async request<T>(send: (callback: Callback<T>) => void): Promise<T> {
    await this.acquire();
    try {
      if (this.closed) throw new ModbusRequestError('connection', 'link closed');
      await this.ensureConnected();
      return await new Promise<T>((resolve, reject) => {
        send((error, result) => (error ? reject(classify(error)) : resolve(result)));
      }).catch((error: ModbusRequestError) => {
        // After a timeout the stream may still deliver a stale answer; a fresh connection is cleaner.
        if (error.kind === 'connection' || (error.kind === 'timeout' && !this.options.endpoint.startsWith('tcp:'))) this.drop();
        throw error;
      });
    } finally {
      const pauseMs = this.options.settings.pause_between_requests_ms;
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.inFlight < this.options.settings.max_requests_in_flight) {
      this.inFlight += 1;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => resolve()));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next !== undefined) next();
    else this.inFlight -= 1;
  }

  private drop(): void {
    if (this.client.isOpen) this.client.close(() => undefined);
  }

  private async ensureConnected(): Promise<void> {
    if (this.client.isOpen) return;
    const now = this.options.clock();
    if (now < this.reconnectAtMs) throw new ModbusRequestError('connection', `not connected; next attempt in ${Math.ceil(this.reconnectAtMs - now)} ms`);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    await this.connecting;
  }

  private async connect(): Promise<void> {
    const endpoint = new URL(this.options.endpoint);
    try {
      if (endpoint.protocol === 'tcp:') {
        await this.client.connectTCP(endpoint.hostname, { port: Number(endpoint.port) });
      } else if (endpoint.protocol === 'rtu-over-tcp:') {
        // modbus-serial's "telnet" port is raw RTU frames over TCP, as serial device servers pass them.
        await this.client.connectTelnet(endpoint.hostname, { port: Number(endpoint.port) });
      } else {
        const serial = this.options.settings.serial;
        await this.client.connectRTUBuffered(decodeURIComponent(endpoint.pathname), {
          baudRate: serial?.baud_rate ?? 19_200,
          dataBits: serial?.data_bits ?? 8,
          stopBits: serial?.stop_bits ?? 1,
          parity: serial?.parity ?? 'even',
        });
      }
      this.client.setTimeout(this.options.timeoutMs);
      this.reconnectDelayMs = this.options.backoff.initial_ms;
    } catch (error) {
      // Exponential backoff with jitter, capped, so a dead PLC is not hammered and many links do not retry in step.
      this.reconnectAtMs = this.options.clock() + this.reconnectDelayMs * (0.5 + this.random() / 2);
      this.reconnectDelayMs = Math.min(this.reconnectDelayMs * 2, this.options.backoff.max_ms);
      throw new ModbusRequestError('connection', `cannot connect to ${this.options.endpoint}: ${(error as Error).message}`, undefined, { cause: error });
    }
  }
}

function classify(error: NodeJS.ErrnoException & { modbusCode?: number }): ModbusRequestError {
  if (typeof error.modbusCode === 'number') return new ModbusRequestError('exception', error.message, error.modbusCode, { cause: error });
  if (String(error.errno) === 'ETIMEDOUT' || /timed out/i.test(error.message)) return new ModbusRequestError('timeout', error.message, undefined, { cause: error });
  if (error.name === 'PortNotOpenError' || String(error.errno) === 'ECONNREFUSED' || /not open|ECONNRESET|EPIPE|closed/i.test(error.message)) return new ModbusRequestError('connection', error.message, undefined, { cause: error });
  return new ModbusRequestError('other', error.message, undefined, { cause: error });
}
