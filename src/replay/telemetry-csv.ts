// Reads recorded telemetry for an offline replay: CSV in long form (`time,tag,value[,quality]`,
// one sample per row) or wide form (`time,<tag>,<tag>,...`, one row per time), times as ISO 8601
// with a zone or as epoch milliseconds. Samples land in typed columns (a year of 5-minute data
// for 50 tags is 5 million samples) and come back sorted by time, however the file was ordered.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ConfigError, type ConfigIssue } from '../errors.js';

export interface TelemetryColumns {
  /** Tag ids, indexed by `tagIndex`. */
  tags: string[];
  tagIndex: Int32Array;
  timeMs: Float64Array;
  /** NaN where the row had no value. */
  value: Float64Array;
  quality: Uint8Array;
  length: number;
  /** Rows of tags the site does not know, skipped. */
  unknownTagSamples: Map<string, number>;
}

// A Map, not an object: a quality written "constructor" or "__proto__" must not find Object's own.
const QUALITY_CODES = new Map<string, number>([['good', 0], ['0', 0], ['uncertain', 1], ['1', 1], ['bad', 2], ['2', 2]]);
const MAX_REPORTED_ISSUES = 20;
const ISO_WITH_ZONE = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(?:Z|([+-])(\d{2}):?(\d{2}))$/i;
/** The range of a JavaScript Date: a time beyond it cannot be replayed or written out. */
const MAX_EPOCH_MS = 8_640_000_000_000_000;

/** Epoch ms from ISO 8601 with a zone offset or from an integer of epoch milliseconds; undefined if neither. */
export function parseTime(text: string): number | undefined {
  if (/^-?\d+$/.test(text)) {
    const ms = Number(text);
    return Number.isSafeInteger(ms) && Math.abs(ms) <= MAX_EPOCH_MS ? ms : undefined;
  }
  // Read field by field, not by Date.parse: it rolls 2026-02-31 over into March, and with a space
  // for the "T" it reads years 0000-0099 as 1950-2049.
  const match = ISO_WITH_ZONE.exec(text);
  if (match === null) return undefined;
  const [year, month, day, hour, minute, second = 0] = match.slice(1, 7).map((part) => (part === undefined ? undefined : Number(part))) as number[];
  const ms = Number((match[7] ?? '').slice(0, 3).padEnd(3, '0'));
  const offsetMinutes = match[8] === undefined ? 0 : (match[8] === '-' ? -1 : 1) * (Number(match[9]) * 60 + Number(match[10]));
  const date = new Date(0);
  date.setUTCFullYear(year!, month!, 0);
  const daysInMonth = date.getUTCDate();
  // 24:00:00 is the end of the day, which ISO 8601 allows; any other hour past 23 is not a time.
  const endOfDay = hour === 24 && minute === 0 && second === 0 && ms === 0;
  const valid = month! >= 1 && month! <= 12 && day! >= 1 && day! <= daysInMonth && (hour! <= 23 || endOfDay) && minute! <= 59 && second <= 59 && Math.abs(offsetMinutes) < 24 * 60 && Number(match[10] ?? 0) <= 59;
  if (!valid) return undefined;
  date.setUTCFullYear(year!, month! - 1, day!);
  date.setUTCHours(hour!, minute!, second, ms);
  return date.getTime() - offsetMinutes * 60_000;
}

/** Fields of one CSV line (RFC 4180 quoting; a quoted field does not span lines here). */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',').map((field) => field.trim());
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let index = 0; index < line.length; index += 1) {
    const char = line[index]!;
    if (quoted) {
      if (char === '"' && line[index + 1] === '"') {
        field += '"';
        index += 1;
      } else if (char === '"') quoted = false;
      else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') {
      fields.push(field.trim());
      field = '';
    } else field += char;
  }
  fields.push(field.trim());
  return fields;
}

class ColumnBuilder {
  tagIndex = new Int32Array(1 << 16);
  timeMs = new Float64Array(1 << 16);
  value = new Float64Array(1 << 16);
  quality = new Uint8Array(1 << 16);
  length = 0;

  push(tag: number, timeMs: number, value: number, quality: number): void {
    if (this.length === this.tagIndex.length) this.grow();
    this.tagIndex[this.length] = tag;
    this.timeMs[this.length] = timeMs;
    this.value[this.length] = value;
    this.quality[this.length] = quality;
    this.length += 1;
  }

  private grow(): void {
    const size = this.tagIndex.length * 2;
    const grown = <T extends Int32Array | Float64Array | Uint8Array>(array: T, make: (n: number) => T): T => {
      const next = make(size);
      next.set(array);
      return next;
    };
    this.tagIndex = grown(this.tagIndex, (n) => new Int32Array(n));
    this.timeMs = grown(this.timeMs, (n) => new Float64Array(n));
    this.value = grown(this.value, (n) => new Float64Array(n));
    this.quality = grown(this.quality, (n) => new Uint8Array(n));
  }
}

export interface ReadOptions {
  /** Tag ids the site knows; samples of others are counted and skipped. */
  knownTags: ReadonlySet<string>;
  /** Called every so many lines with the lines read so far. */
  onProgress?: (lines: number) => void;
}

/** Reads the whole file; a malformed file is a ConfigError naming the line and column of each problem. */
export async function readTelemetryCsv(file: string, options: ReadOptions): Promise<TelemetryColumns> {
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  const builder = new ColumnBuilder();
  const tags: string[] = [];
  const tagNumbers = new Map<string, number>();
  const unknownTagSamples = new Map<string, number>();
  const issues: ConfigIssue[] = [];
  const report = (line: number, column: string, message: string) => {
    if (issues.length < MAX_REPORTED_ISSUES) issues.push({ path: `line ${line}, ${column}`, message });
  };
  const tagNumber = (tag: string): number | undefined => {
    let number = tagNumbers.get(tag);
    if (number !== undefined) return number;
    if (!options.knownTags.has(tag)) {
      unknownTagSamples.set(tag, (unknownTagSamples.get(tag) ?? 0) + 1);
      return undefined;
    }
    number = tags.length;
    tags.push(tag);
    tagNumbers.set(tag, number);
    return number;
  };

  let header: string[] | undefined;
  let wideTags: Array<number | undefined> = [];
  let wideNames: string[] = [];
  let longForm = false;
  let lineNumber = 0;
  for await (const raw of lines) {
    lineNumber += 1;
    if (lineNumber % 100_000 === 0) options.onProgress?.(lineNumber);
    const line = lineNumber === 1 ? raw.replace(/^\uFEFF/, '') : raw;
    if (line.trim() === '') continue;
    const fields = splitCsvLine(line);
    if (header === undefined) {
      header = fields.map((field) => field.toLowerCase());
      if (header[0] !== 'time') {
        report(lineNumber, 'column 1', `the header must start with "time" (got "${fields[0]}")`);
        break;
      }
      longForm = header[1] === 'tag' && header[2] === 'value' && (header.length === 3 || (header.length === 4 && header[3] === 'quality'));
      if (!longForm) {
        if (header.length < 2) report(lineNumber, 'header', 'needs "time,tag,value[,quality]" (long form) or "time,<tag>,<tag>,..." (wide form)');
        wideNames = fields.slice(1);
        wideTags = wideNames.map((tag) => {
          const number = tagNumber(tag);
          if (number === undefined) unknownTagSamples.set(tag, 0);
          return number;
        });
      }
      continue;
    }
    const timeMs = parseTime(fields[0] ?? '');
    if (timeMs === undefined) {
      report(lineNumber, 'time', `"${fields[0]}" is neither ISO 8601 with a zone (2026-01-01T00:00:00Z) nor epoch milliseconds`);
      continue;
    }
    if (longForm) {
      if (fields.length !== header.length) {
        report(lineNumber, 'row', `has ${fields.length} fields; the header has ${header.length}`);
        continue;
      }
      const tag = tagNumber(fields[1]!);
      if (tag === undefined) continue;
      const valueText = fields[2]!;
      const value = valueText === '' ? Number.NaN : Number(valueText);
      if (valueText !== '' && !Number.isFinite(value)) {
        report(lineNumber, 'value', `"${valueText}" is not a finite number`);
        continue;
      }
      const qualityText = (fields[3] ?? '').toLowerCase();
      const quality = qualityText === '' ? (valueText === '' ? 2 : 0) : QUALITY_CODES.get(qualityText);
      if (quality === undefined) {
        report(lineNumber, 'quality', `"${fields[3]}" is not good, uncertain or bad (or 0, 1, 2)`);
        continue;
      }
      builder.push(tag, timeMs, value, quality);
    } else {
      if (fields.length !== header.length) {
        report(lineNumber, 'row', `has ${fields.length} fields; the header has ${header.length}`);
        continue;
      }
      for (let column = 1; column < fields.length; column += 1) {
        const tag = wideTags[column - 1];
        const text = fields[column]!;
        if (tag === undefined) {
          const name = wideNames[column - 1]!;
          if (text !== '') unknownTagSamples.set(name, (unknownTagSamples.get(name) ?? 0) + 1);
          continue;
        }
        // An empty cell in wide form is a tag not sampled at this time, not a bad sample.
        if (text === '') continue;
        const value = Number(text);
        if (!Number.isFinite(value)) {
          report(lineNumber, `column ${column + 1} (${tags[tag]})`, `"${text}" is not a finite number`);
          continue;
        }
        builder.push(tag, timeMs, value, 0);
      }
    }
  }
  if (header === undefined) issues.push({ path: 'header', message: 'the file is empty' });
  if (issues.length > 0) throw new ConfigError(file, issues);
  return sortByTime({ tags, tagIndex: builder.tagIndex, timeMs: builder.timeMs, value: builder.value, quality: builder.quality, length: builder.length, unknownTagSamples });
}

/** Columns in time order (ties kept in file order); untouched when the file already was. */
function sortByTime(columns: TelemetryColumns): TelemetryColumns {
  const { length, timeMs } = columns;
  let sorted = true;
  for (let index = 1; index < length && sorted; index += 1) sorted = timeMs[index - 1]! <= timeMs[index]!;
  if (sorted) return { ...columns, tagIndex: columns.tagIndex.subarray(0, length), timeMs: timeMs.subarray(0, length), value: columns.value.subarray(0, length), quality: columns.quality.subarray(0, length) };
  const order = new Uint32Array(length);
  for (let index = 0; index < length; index += 1) order[index] = index;
  order.sort((a, b) => timeMs[a]! - timeMs[b]! || a - b);
  const tagIndex = new Int32Array(length);
  const times = new Float64Array(length);
  const value = new Float64Array(length);
  const quality = new Uint8Array(length);
  for (let index = 0; index < length; index += 1) {
    const from = order[index]!;
    tagIndex[index] = columns.tagIndex[from]!;
    times[index] = timeMs[from]!;
    value[index] = columns.value[from]!;
    quality[index] = columns.quality[from]!;
  }
  return { ...columns, tagIndex, timeMs: times, value, quality };
}
