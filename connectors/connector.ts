// What every protocol connector offers the runtime, and the sink its data leaves through.
import type { Sample } from '../src/contracts/telemetry.js';

/** One poll cycle's samples of one device. */
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

export interface DeviceConnector {
  readonly device: string;
  start(): void;
  /** Stops polling and closes the link; resolves once no request is in flight. */
  stop(): Promise<void>;
}

/** Injected time source, so tests and replays control it. */
export type Clock = () => number;
