// The port between a simulated plant's process values and the protocol servers that expose them.
export type SimulatedQuality = 'good' | 'uncertain' | 'bad';

export interface PlantReading {
  value: number | null;
  quality: SimulatedQuality;
}

export interface PlantValueSource {
  /** The tag's current engineering value. */
  read(tagId: string): PlantReading;
  /** A command written by a client (pump start/stop, valve position, setpoint). */
  write(tagId: string, value: number): void;
}
