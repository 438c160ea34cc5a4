// Where the simulator's answers leave it: the ground truth of what the scenario player injected
// (which incident, where, when, how large) and the synthetic complaints, each a JSON line. The
// file sink appends one line per record and writes it before returning, so a crash loses nothing
// already reported; the memory sink is for tests. Detection and correlation are scored against
// these files, so their shape is a contract of its own.
import { closeSync, fdatasyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import path from 'node:path';
import type { ScenarioEventKind } from '../../src/contracts/scenario.js';

/** A port records leave through; `write` returns once the record is stored. */
export interface RecordSink<T> {
  write(record: T): void;
  close?(): void;
}

/**
 * One injected incident. Written when the event is applied, with `end` its planned end (null:
 * until the run stops). An event cut short (its scenario stopped early) is written again with the
 * actual end: for one (scenario, event) the last line wins.
 */
export interface GroundTruthRecord {
  scenario: string;
  event: string;
  kind: ScenarioEventKind;
  /** The element(s) acted on, e.g. { junction, lat, lon }, { pump }, { tag }, { device }, { zone }. */
  where: Record<string, unknown>;
  /** The site zone the incident lies in, when one is known. */
  zone: string | null;
  /** ISO 8601 in simulated time. */
  start: string;
  end: string | null;
  /** How large, in units named by each key (coefficient_m3h_per_sqrt_m, factor, rate_per_hour…). */
  size: Record<string, unknown>;
}

export type GroundTruthSink = RecordSink<GroundTruthRecord>;

export interface JsonLinesFileSinkOptions {
  /** Also ask the OS to put each line on disk (survives a power cut, not only a crash). Default false. */
  durable?: boolean;
}

/** Appends each record to a file as one JSON line. */
export class JsonLinesFileSink<T> implements RecordSink<T> {
  private fd: number | undefined;

  constructor(
    readonly file: string,
    private readonly options: JsonLinesFileSinkOptions = {},
  ) {
    mkdirSync(path.dirname(file), { recursive: true });
    this.fd = openSync(file, 'a');
  }

  write(record: T): void {
    if (this.fd === undefined) throw new Error(`JSON lines sink ${this.file} is closed`);
    // One writeSync per line: a line is in the OS before write() returns, never half in a buffer of ours.
    const line = Buffer.from(`${JSON.stringify(record)}\n`, 'utf8');
    let written = 0;
    while (written < line.length) written += writeSync(this.fd, line, written, line.length - written);
    if (this.options.durable === true) fdatasyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Keeps records in order, for tests. */
export class MemorySink<T> implements RecordSink<T> {
  readonly records: T[] = [];

  write(record: T): void {
    // A deep copy: what was written cannot change afterwards, as in a file.
    this.records.push(structuredClone(record));
  }

  /** The records as the file sink would write them. */
  jsonLines(): string {
    return this.records.map((record) => `${JSON.stringify(record)}\n`).join('');
  }
}
