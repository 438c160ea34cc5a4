// A TelemetrySink that keeps what it is given, for connector tests.
import type { DeviceReading, TelemetrySink } from '../../connectors/connector.js';
import type { Sample } from '../../src/contracts/telemetry.js';

export class MemorySink implements TelemetrySink {
  readonly readings: DeviceReading[] = [];
  readonly states: Array<{ device: string; state: 'online' | 'offline'; reason?: string | undefined }> = [];

  deliver(reading: DeviceReading): void {
    this.readings.push(reading);
  }

  deviceState(device: string, state: 'online' | 'offline', reason?: string): void {
    this.states.push({ device, state, reason });
  }

  /** Every sample of a tag, oldest first. */
  samples(tag: string): Sample[] {
    return this.readings.flatMap((reading) => reading.samples.filter((sample) => sample.tag === tag));
  }

  latest(tag: string): Sample | undefined {
    return this.samples(tag).at(-1);
  }

  stateOf(device: string): 'online' | 'offline' | undefined {
    return this.states.filter((state) => state.device === device).at(-1)?.state;
  }
}
