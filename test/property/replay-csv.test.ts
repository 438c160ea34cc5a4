// Properties of the files `tirta replay` reads: recorded telemetry (CSV, long and wide form) and
// recorded complaints (JSON lines). A generated valid file reads back as exactly what was
// generated; any damaged file (quotes, embedded newlines, BOM, CRLF, missing or extra columns,
// NaN, Infinity, impossible dates, times beyond the calendar, invalid UTF-8) is read into
// columns the replay can use or refused with a ConfigError naming the line (and column),
// never another exception and never a hang.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { ConfigError } from '../../src/errors.js';
import { readComplaintsJsonl } from '../../src/replay/complaints-jsonl.js';
import { parseTime, readTelemetryCsv, type TelemetryColumns } from '../../src/replay/telemetry-csv.js';
import {
  calendarMs,
  hostileString,
  invalidUtf8,
  isoWithOffset,
  jsonText,
  offsetMinutes,
  printableText,
  spliceBytes,
  validComplaint,
} from './arbitraries.js';

const KNOWN_TAGS = ['dma-1.pressure.1', 'dma-1.inlet.flow', 'ps.tank.level', 'trunk.main.pressure'];
const UNKNOWN_TAGS = ['dma-9.pressure.1', 'Constructor', 'legacy.flow'];
/** The range of a JavaScript Date: beyond it a time cannot be written out (toISOString throws). */
const DATE_RANGE_MS = 8_640_000_000_000_000;
const TIME_BOUND_MS = 5_000;

let directory: string;
let fileNumber = 0;

async function fileWith(content: string | Buffer, extension: string): Promise<string> {
  fileNumber += 1;
  const file = path.join(directory, `recording-${fileNumber}.${extension}`);
  await writeFile(file, content);
  return file;
}

/** Runs a reader within the time bound; anything thrown but a ConfigError fails the property. */
async function read<T>(reader: () => Promise<T>): Promise<{ value?: T; error?: ConfigError }> {
  const started = performance.now();
  try {
    return { value: await reader() };
  } catch (error) {
    expect(error, `threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`).to.be.instanceOf(ConfigError);
    return { error: error as ConfigError };
  } finally {
    expect(performance.now() - started, 'read time (ms)').to.be.below(TIME_BOUND_MS);
  }
}

/** Lines as readline counts them (CRLF, LF or a lone CR ends one). */
const lineCount = (content: string | Buffer) => String(content).split(/\r\n|\n|\r/).length;

// ---------------------------------------------------------------------------------------------
// Telemetry CSV

interface GeneratedSample {
  tag: string;
  timeMs: number;
  timeText: string;
  /** null for an empty cell. */
  value: number | null;
  valueText: string;
  qualityText: string;
}

const QUALITY_OF: Record<string, number> = { good: 0, uncertain: 1, bad: 2, '0': 0, '1': 1, '2': 2 };

const finite = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constantFrom(0, 1e-320, -1e308, 31.25)).map((value) => (Object.is(value, -0) ? 0 : value));

/** A time and how it is written: epoch milliseconds anywhere a Date reaches, or ISO 8601 with a zone in years 0000-9999. */
const timeCell = fc.oneof(
  fc.oneof(fc.integer({ min: -DATE_RANGE_MS, max: DATE_RANGE_MS }), fc.constantFrom(-DATE_RANGE_MS, DATE_RANGE_MS, 0), fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2027, 0, 1) })).map((ms) => ({ timeMs: ms, timeText: String(ms) })),
  fc.tuple(calendarMs, offsetMinutes, fc.boolean(), fc.boolean(), fc.constantFrom('T' as const, ' ' as const)).map(([ms, offset, zulu, millis, separator]) => {
    const timeMs = millis ? ms : ms - (((ms % 1000) + 1000) % 1000);
    return { timeMs, timeText: isoWithOffset(timeMs, offset, { zulu, millis, separator }) };
  }),
);

const sample = (tags: readonly string[]): fc.Arbitrary<GeneratedSample> =>
  fc
    .tuple(fc.constantFrom(...tags), timeCell, fc.option(finite, { nil: null, freq: 8 }), fc.boolean(), fc.constantFrom('', '', 'good', 'uncertain', 'bad', 'GOOD', 'Bad', '0', '1', '2'))
    .map(([tag, time, value, exponent, qualityText]) => ({ tag, ...time, value, valueText: value === null ? '' : exponent ? value.toExponential() : String(value), qualityText }));

/** How fields and lines are written: quoted or not, padded, CRLF or LF, blank lines, a BOM. */
const layout = fc.record({ bom: fc.boolean(), crlf: fc.boolean(), quote: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), pad: fc.boolean(), blankLines: fc.array(fc.nat(), { maxLength: 2 }), headerCase: fc.constantFrom('lower', 'upper', 'title') });
type Layout = typeof layout extends fc.Arbitrary<infer T> ? T : never;

function writeCsv(header: string[], rows: string[][], how: Layout): string {
  const cased = header.map((name, index) => (index > 0 && !['tag', 'value', 'quality'].includes(name) ? name : how.headerCase === 'upper' ? name.toUpperCase() : how.headerCase === 'title' ? name[0]!.toUpperCase() + name.slice(1) : name));
  const cell = (text: string, column: number) => {
    const quoted = how.quote[column % how.quote.length] ? `"${text}"` : text;
    return how.pad ? ` ${quoted} ` : quoted;
  };
  const lines = [cased, ...rows].map((fields) => fields.map(cell).join(','));
  for (const at of how.blankLines) lines.splice(1 + (at % lines.length), 0, at % 2 === 0 ? '' : '  \t');
  return `${how.bom ? '\uFEFF' : ''}${lines.join(how.crlf ? '\r\n' : '\n')}${how.crlf ? '\r\n' : '\n'}`;
}

interface ExpectedSample {
  tag: string;
  timeMs: number;
  value: number;
  quality: number;
}

function samplesOf(columns: TelemetryColumns): ExpectedSample[] {
  return Array.from({ length: columns.length }, (_, index) => ({ tag: columns.tags[columns.tagIndex[index]!]!, timeMs: columns.timeMs[index]!, value: columns.value[index]!, quality: columns.quality[index]! }));
}

/** In time order, ties in file order: what the reader promises. */
const byTime = (samples: ExpectedSample[]) => samples.map((item, index) => ({ item, index })).sort((a, b) => a.item.timeMs - b.item.timeMs || a.index - b.index).map(({ item }) => item);

/** Columns the replay can always use, whatever the file held. */
function expectUsableColumns(columns: TelemetryColumns, known: readonly string[]): void {
  const { length } = columns;
  for (const array of [columns.tagIndex, columns.timeMs, columns.value, columns.quality]) expect(array.length).to.equal(length);
  for (const tag of columns.tags) expect(known).to.include(tag);
  for (let index = 0; index < length; index += 1) {
    const time = columns.timeMs[index]!;
    expect(Number.isInteger(time) && Math.abs(time) <= DATE_RANGE_MS, `sample ${index}: time ${time} is not a date`).to.equal(true);
    if (index > 0) expect(time, `sample ${index} out of time order`).to.be.at.least(columns.timeMs[index - 1]!);
    const value = columns.value[index]!;
    expect(Number.isFinite(value) || Number.isNaN(value), `sample ${index}: value ${value}`).to.equal(true);
    expect([0, 1, 2]).to.include(columns.quality[index]);
    expect(columns.tagIndex[index]).to.be.within(0, columns.tags.length - 1);
  }
}

/** A ConfigError of a CSV file names the file and, for each issue, the line and column or the header. */
function expectIssuesAtLines(error: ConfigError, file: string, lines: number, pattern: RegExp): void {
  expect(error.file).to.equal(file);
  expect(error.issues).to.be.an('array').that.is.not.empty;
  for (const issue of error.issues) {
    const context = JSON.stringify(issue).slice(0, 300);
    expect(issue.message, context).to.be.a('string').that.is.not.empty;
    expect(issue.path, context).to.match(pattern);
    const line = /^line (\d+)/.exec(issue.path)?.[1];
    if (line !== undefined) expect(Number(line), context).to.be.within(1, lines);
  }
}

const CSV_ISSUE = /^(header|line \d+, (time|tag|value|quality|row|header|column \d+( \(.*\))?))$/s;

/** Times a recording should not hold: impossible dates, times past the calendar or a Date's range, two-digit years. */
const hostileTime = fc.constantFrom(
  '2026-02-31T00:00:00Z', '2026-04-31T12:00:00+07:00', '2025-02-29 00:00:00Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2026-01-01T24:00:00Z', '2026-01-01T23:59:60Z', '2026-01-01T23:60Z',
  '275760-09-13T00:00:00Z', '+275760-09-13T00:00:00Z', '-000001-01-01T00:00:00Z', '0049-06-01 12:00:00Z', '0001-01-01 00:00+07:00', '2026-01-01T00:00:00', '2026-01-01', '2026-01-01T00:00:00+25:00', '2026-01-01T00:00:00+05:75',
  '9007199254740991', '-9007199254740991', '8640000000000001', '-8640000000000001', '10000000000000000000', '1e16', '-0', 'NaN', 'Infinity',
);

/** Damage to a CSV file: every kind of thing a hand-edited or exported recording holds. */
const csvDamage = fc.oneof(
  fc.record({ kind: fc.constant('replace-cell' as const), at: fc.nat(), text: fc.oneof(
    fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e400', '-1e400', '0x1F', '0b11', '1_000', '1,5', '', ' ', '"', '""', '"unterminated', 'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'CONSTRUCTOR'),
    hostileTime,
    hostileString.filter((text) => text.length < 200),
  ) }),
  fc.record({ kind: fc.constant('replace-time' as const), at: fc.nat(), text: hostileTime }),
  fc.record({ kind: fc.constant('delete-cell' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('add-cell' as const), at: fc.nat(), text: fc.constantFrom('1', '', 'extra') }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.constantFrom('"', '\n', '\r', '\r\n', '"a\nb"', ',', '\uFEFF', '\u0000', '\t') }),
  fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), bytes: invalidUtf8 }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);
type CsvDamage = typeof csvDamage extends fc.Arbitrary<infer T> ? T : never;

function damageCsv(content: Buffer, how: CsvDamage): Buffer {
  const text = content.toString('utf8');
  const cells = [...text.matchAll(/[^,\r\n]+|(?<=,)(?=,|\r|\n|$)/g)];
  const cell = cells.length === 0 ? undefined : cells[(how as { at: number }).at % cells.length];
  const splice = (start: number, end: number, insert: string) => Buffer.from(text.slice(0, start) + insert + text.slice(end));
  switch (how.kind) {
    case 'replace-time': {
      // The first cell of a line after the header.
      const starts = [...text.matchAll(/\n(?=[^\r\n])/g)].map((match) => match.index! + 1);
      if (starts.length === 0) return content;
      const start = starts[how.at % starts.length]!;
      const end = text.slice(start).search(/[,\r\n]|$/) + start;
      return splice(start, end, how.text);
    }
    case 'replace-cell':
      return cell === undefined ? content : splice(cell.index!, cell.index! + cell[0].length, how.text);
    case 'delete-cell':
      return cell === undefined ? content : splice(Math.max(0, cell.index! - 1), cell.index! + cell[0].length, '');
    case 'add-cell':
      return cell === undefined ? content : splice(cell.index! + cell[0].length, cell.index! + cell[0].length, `,${how.text}`);
    case 'insert': {
      const at = how.at % (text.length + 1);
      return splice(at, at, how.text);
    }
    case 'bytes':
      return spliceBytes(content, how.at, how.bytes);
    case 'truncate':
      return content.subarray(0, how.at % (content.length + 1));
  }
}

const longForm = fc.record({ samples: fc.array(sample([...KNOWN_TAGS, ...UNKNOWN_TAGS]), { maxLength: 25 }), withQuality: fc.boolean(), layout });
const wideForm = fc.record({
  columns: fc.shuffledSubarray([...KNOWN_TAGS, ...UNKNOWN_TAGS], { minLength: 1 }),
  rows: fc.array(fc.tuple(timeCell, fc.array(fc.option(finite, { nil: null, freq: 3 }), { minLength: 7, maxLength: 7 }), fc.boolean()), { maxLength: 15 }),
  layout,
});

function longFormCsv({ samples, withQuality, layout: how }: typeof longForm extends fc.Arbitrary<infer T> ? T : never): { text: string; expected: ExpectedSample[]; unknown: Map<string, number> } {
  const header = withQuality ? ['time', 'tag', 'value', 'quality'] : ['time', 'tag', 'value'];
  const rows = samples.map((item) => [item.timeText, item.tag, item.valueText, ...(withQuality ? [item.qualityText] : [])]);
  const unknown = new Map<string, number>();
  const expected: ExpectedSample[] = [];
  for (const item of samples) {
    if (!KNOWN_TAGS.includes(item.tag)) {
      unknown.set(item.tag, (unknown.get(item.tag) ?? 0) + 1);
      continue;
    }
    const qualityText = withQuality ? item.qualityText.toLowerCase() : '';
    const quality = qualityText === '' ? (item.value === null ? 2 : 0) : QUALITY_OF[qualityText]!;
    expected.push({ tag: item.tag, timeMs: item.timeMs, value: item.value ?? Number.NaN, quality });
  }
  return { text: writeCsv(header, rows, how), expected: byTime(expected), unknown };
}

function wideFormCsv({ columns, rows, layout: how }: typeof wideForm extends fc.Arbitrary<infer T> ? T : never): { text: string; expected: ExpectedSample[]; unknown: Map<string, number> } {
  const unknown = new Map<string, number>(columns.filter((tag) => !KNOWN_TAGS.includes(tag)).map((tag) => [tag, 0]));
  const expected: ExpectedSample[] = [];
  const lines = rows.map(([time, values, exponent]) => {
    const cells = columns.map((tag, index) => {
      const value = values[index] ?? null;
      if (value !== null) {
        if (KNOWN_TAGS.includes(tag)) expected.push({ tag, timeMs: time.timeMs, value, quality: 0 });
        else unknown.set(tag, unknown.get(tag)! + 1);
      }
      return value === null ? '' : exponent ? value.toExponential() : String(value);
    });
    return [time.timeText, ...cells];
  });
  return { text: writeCsv(['time', ...columns], lines, how), expected: byTime(expected), unknown };
}

// ---------------------------------------------------------------------------------------------
// Complaints JSON lines

const recordedComplaint = validComplaint.chain((complaint) => fc.record({ id: printableText(200), reported_at: fc.tuple(calendarMs, offsetMinutes, fc.boolean()).map(([ms, offset, zulu]) => isoWithOffset(ms, offset, { zulu })) }).map((extra) => ({ ...complaint, ...extra })));

/** The complaint the reader must return for one it was given: its strings trimmed. */
function trimmedComplaint(complaint: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(complaint)) out[key] = typeof value === 'string' && key !== 'reported_at' ? value.trim() : value;
  const location = complaint.location as Record<string, unknown>;
  out.location = 'address' in location ? { address: String(location.address).trim() } : 'account' in location ? { account: String(location.account).trim() } : location;
  return out;
}

describe('property: replay files', function () {
  this.timeout(120_000);

  before(async () => {
    directory = await mkdtemp(path.join(os.tmpdir(), 'tirta-property-replay-'));
  });

  after(async () => {
    if (directory !== undefined) await rm(directory, { recursive: true, force: true });
  });

  describe('telemetry CSV', () => {
    it('a generated long-form CSV reads back as exactly its samples of known tags, in time order', async () => {
      await fc.assert(
        fc.asyncProperty(longForm, async (generated) => {
          const { text, expected, unknown } = longFormCsv(generated);
          const file = await fileWith(text, 'csv');
          const { value, error } = await read(() => readTelemetryCsv(file, { knownTags: new Set(KNOWN_TAGS) }));
          expect(error?.issues, 'refused a valid file').to.equal(undefined);
          expect(samplesOf(value!)).to.deep.equal(expected);
          expect(Object.fromEntries(value!.unknownTagSamples)).to.deep.equal(Object.fromEntries(unknown));
          expectUsableColumns(value!, KNOWN_TAGS);
        }),
        { numRuns: 150 },
      );
    });

    it('a generated wide-form CSV reads back as exactly its non-empty cells of known tags, in time order', async () => {
      await fc.assert(
        fc.asyncProperty(wideForm, async (generated) => {
          const { text, expected, unknown } = wideFormCsv(generated);
          const file = await fileWith(text, 'csv');
          const { value, error } = await read(() => readTelemetryCsv(file, { knownTags: new Set(KNOWN_TAGS) }));
          expect(error?.issues, 'refused a valid file').to.equal(undefined);
          expect(samplesOf(value!)).to.deep.equal(expected);
          expect(Object.fromEntries(value!.unknownTagSamples)).to.deep.equal(Object.fromEntries(unknown));
        }),
        { numRuns: 100 },
      );
    });

    it('a damaged CSV is read into usable columns or refused naming the line and column', async () => {
      // Mostly one damage: with more, nearly every file is refused and the columns are never seen.
      const damages = fc.oneof({ arbitrary: fc.tuple(csvDamage), weight: 3 }, { arbitrary: fc.array(csvDamage, { minLength: 2, maxLength: 4 }), weight: 1 });
      await fc.assert(
        fc.asyncProperty(fc.oneof(longForm.map(longFormCsv), wideForm.map(wideFormCsv)), damages, async ({ text }, changes) => {
          const content = changes.reduce(damageCsv, Buffer.from(text));
          const file = await fileWith(content, 'csv');
          const { value, error } = await read(() => readTelemetryCsv(file, { knownTags: new Set(KNOWN_TAGS) }));
          if (error !== undefined) expectIssuesAtLines(error, file, lineCount(content), CSV_ISSUE);
          else expectUsableColumns(value!, KNOWN_TAGS);
        }),
        { numRuns: 250 },
      );
    });

    it('random bytes are read into usable columns or refused naming the line', async () => {
      await fc.assert(
        fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 500 }).map((bytes) => Buffer.from(bytes)), hostileString.map((text) => Buffer.from(`time,tag,value\n${text}`))), async (content) => {
          const file = await fileWith(content, 'csv');
          const { value, error } = await read(() => readTelemetryCsv(file, { knownTags: new Set(KNOWN_TAGS) }));
          if (error !== undefined) expectIssuesAtLines(error, file, lineCount(content), CSV_ISSUE);
          else expectUsableColumns(value!, KNOWN_TAGS);
        }),
        { numRuns: 100 },
      );
    });

    it('refuses the known hostile cells naming line and column: prototype names as quality, times beyond a Date, impossible dates', async () => {
      const cases: Array<[row: string, issuePath: string | undefined, timeMs?: number]> = [
        ['2026-01-01T00:00:00Z,dma-1.pressure.1,1,constructor', 'line 2, quality'],
        ['2026-01-01T00:00:00Z,dma-1.pressure.1,1,__proto__', 'line 2, quality'],
        ['2026-01-01T00:00:00Z,dma-1.pressure.1,1,toString', 'line 2, quality'],
        ['9007199254740991,dma-1.pressure.1,1,good', 'line 2, time'],
        ['-8640000000000001,dma-1.pressure.1,1,good', 'line 2, time'],
        ['8640000000000000,dma-1.pressure.1,1,good', undefined, 8_640_000_000_000_000],
        ['2026-02-31T00:00:00Z,dma-1.pressure.1,1,good', 'line 2, time'],
        ['2026-04-31 12:00:00+07:00,dma-1.pressure.1,1,good', 'line 2, time'],
        ['2024-02-29 12:00:00+07:00,dma-1.pressure.1,1,good', undefined, Date.UTC(2024, 1, 29, 5)],
        ['0049-06-01 12:00:00Z,dma-1.pressure.1,1,good', undefined, Date.parse('0049-06-01T12:00:00Z')],
        ['2026-01-01T24:00:00Z,dma-1.pressure.1,1,good', undefined, Date.UTC(2026, 0, 2)],
        ['2026-01-01T24:00:01Z,dma-1.pressure.1,1,good', 'line 2, time'],
        ['2026-01-01T00:00:00+24:00,dma-1.pressure.1,1,good', 'line 2, time'],
        ['2026-01-01T00:00:00.1239Z,dma-1.pressure.1,1,good', undefined, Date.UTC(2026, 0, 1, 0, 0, 0, 123)],
        ['2026-01-01T00:00:00Z,dma-1.pressure.1,Infinity,good', 'line 2, value'],
        ['2026-01-01T00:00:00Z,dma-1.pressure.1,1e400,good', 'line 2, value'],
      ];
      for (const [row, issuePath, timeMs] of cases) {
        const file = await fileWith(`time,tag,value,quality\n${row}\n`, 'csv');
        const { value, error } = await read(() => readTelemetryCsv(file, { knownTags: new Set(KNOWN_TAGS) }));
        if (issuePath === undefined) {
          expect(error?.issues, row).to.equal(undefined);
          expect(value!.timeMs[0], row).to.equal(timeMs);
        } else {
          expect(error?.issues.map((issue) => issue.path), row).to.deep.equal([issuePath]);
        }
      }
    });

    it('an ISO 8601 time is read as the wall-clock time it writes, or refused: no impossible date rolls over', () => {
      const pad = (value: number, width = 2) => String(value).padStart(width, '0');
      fc.assert(
        fc.property(
          fc.record({ year: fc.integer({ min: 0, max: 9999 }), month: fc.integer({ min: 0, max: 13 }), day: fc.integer({ min: 0, max: 32 }), hour: fc.integer({ min: 0, max: 24 }), minute: fc.integer({ min: 0, max: 60 }), second: fc.integer({ min: 0, max: 60 }), offset: offsetMinutes }),
          ({ year, month, day, hour, minute, second, offset }) => {
            const sign = offset < 0 ? '-' : '+';
            const text = `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}${sign}${pad(Math.floor(Math.abs(offset) / 60))}:${pad(Math.abs(offset) % 60)}`;
            const ms = parseTime(text);
            if (ms === undefined) return;
            // Read back at the same offset, the time must show what was written (24:00:00 being the next day's 00:00:00).
            const shown = isoWithOffset(ms, offset, { millis: false });
            const endOfDay = hour === 24 && minute === 0 && second === 0;
            const midnightUtc = Date.parse(`${pad(year, 4)}-${pad(month)}-${pad(day)}T00:00:00Z`);
            const written = !endOfDay ? text : Number.isNaN(midnightUtc) ? '(no such date)' : isoWithOffset(midnightUtc + 86_400_000 - offset * 60_000, offset, { millis: false });
            expect(shown, `${text} read as ${new Date(ms).toISOString()}`).to.equal(written);
          },
        ),
        { numRuns: 500 },
      );
    });
  });

  describe('complaints JSON lines', () => {
    it('generated recorded complaints read back as exactly what was written, strings trimmed', async () => {
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(recordedComplaint, { selector: (complaint) => complaint.id.trim(), maxLength: 10 }), fc.boolean(), fc.array(fc.nat(), { maxLength: 2 }), async (complaints, crlf, blanks) => {
          const lines = complaints.map((complaint) => JSON.stringify(complaint));
          for (const at of blanks) lines.splice(at % (lines.length + 1), 0, '   ');
          const file = await fileWith(lines.join(crlf ? '\r\n' : '\n'), 'jsonl');
          const { value, error } = await read(() => readComplaintsJsonl(file));
          expect(error?.issues, 'refused a valid file').to.equal(undefined);
          expect(value).to.deep.equal(complaints.map(trimmedComplaint));
        }),
        { numRuns: 100 },
      );
    });

    it('any file of lines is read or refused naming the line and field', async () => {
      const line = fc.oneof(
        { arbitrary: recordedComplaint.map((complaint) => JSON.stringify(complaint)), weight: 4 },
        { arbitrary: jsonText, weight: 3 },
        { arbitrary: hostileString, weight: 1 },
        { arbitrary: fc.constantFrom('{"id":"c1","channel":"web","category":"other","location":{"lat":1e400,"lon":0},"text":"x","reported_at":"2026-01-01T00:00:00Z"}', '{"id":"c1","channel":"web","category":"other","location":{"lat":0,"lon":0},"text":"x","reported_at":"2026-02-31T00:00:00Z"}', '{"__proto__":{"id":"x"}}', `${'['.repeat(10_000)}${']'.repeat(10_000)}`), weight: 1 },
      );
      await fc.assert(
        fc.asyncProperty(fc.array(line, { maxLength: 8 }), fc.option(fc.tuple(invalidUtf8, fc.nat()), { nil: undefined }), async (lines, bytes) => {
          let content: Buffer = Buffer.from(lines.join('\n'));
          if (bytes !== undefined) content = spliceBytes(content, bytes[1], bytes[0]);
          const file = await fileWith(content, 'jsonl');
          const { value, error } = await read(() => readComplaintsJsonl(file));
          if (error !== undefined) {
            // Lines are counted on LF (a lone CR is not a line break in JSON lines).
            expectIssuesAtLines(error, file, content.toString('utf8').split(/\r?\n/).length, /^line \d+(, .+)?$/s);
            return;
          }
          const ids = value!.map((complaint) => complaint.id);
          expect(new Set(ids).size, 'ids are unique').to.equal(ids.length);
          for (const complaint of value!) expect(Number.isNaN(Date.parse(complaint.reported_at))).to.equal(false);
        }),
        { numRuns: 150 },
      );
    });
  });
});
