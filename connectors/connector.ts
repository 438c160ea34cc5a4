// What every protocol connector offers the runtime, and the ports its data leaves through.
// Connectors poll (or subscribe to) PLCs and hand readings to a sink; they never touch the
// database, and they import nothing of the service but its contracts.
import type { Device, SiteConfig } from '../src/contracts/site.js';
import type { Sample } from '../src/contracts/telemetry.js';
import type { Logger } from '../src/log.js';
import type { ConnectorMetrics } from './metrics.js';

/** One poll cycle's (or one subscription notification's) samples of one device. */
export interface DeviceReading {
  device: string;
  pollTsMs: number;
  samples: Sample[];
}

/** Data leaves a connector only through the sink it is given. */
export interface TelemetrySink {
  deliver(reading: DeviceReading): void;
  deviceState(device: string, state: 'online' | 'offline', reason?: string): void;
}

/** Injected time source, so tests and replays control it. */
export type Clock = () => number;

/**
 * A running connector: one per physical link for Modbus (every unit behind a gateway shares it),
 * one per server for OPC UA. It owns its connection's whole lifecycle, reconnection included.
 */
export interface Connector {
  /** The link or device it serves, for logs. */
  readonly name: string;
  /** Device ids of the site config it polls. */
  readonly devices: readonly string[];
  start(): void;
  /** Stops polling and closes the link; resolves once no request is in flight. */
  stop(): Promise<void>;
  /** Writes a command value to a tag (pump start/stop, valve position, setpoint). */
  write(tagId: string, value: number): Promise<void>;
}

export interface ConnectorContext {
  site: SiteConfig;
  sink: TelemetrySink;
  log: Logger;
  metrics: ConnectorMetrics;
  clock: Clock;
  /** Where a connector may keep state across restarts (OPC UA certificates). */
  dataDir: string;
}

/** Builds the connectors of one protocol for the given devices of that protocol. */
export type ConnectorFactory = (devices: readonly Device[], context: ConnectorContext) => Connector[];

export class CommandError extends Error {
  constructor(
    readonly code: 'unknown_tag' | 'not_writable' | 'device_failed' | 'not_connected',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CommandError';
  }
}
