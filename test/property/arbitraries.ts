// Generators shared by the property tests of Tirta's input boundaries (HTTP bodies, the site
// file, MQTT payloads, replay files): hostile strings, JSON text with the tokens JSON.stringify
// cannot write, times at the edges of the calendar, valid complaints and telemetry batches.
import fc from 'fast-check';
import { complaintCategories, complaintChannels } from '../../src/contracts/complaint.js';
import { qualities, type TelemetryBatch } from '../../src/contracts/telemetry.js';

// ---------------------------------------------------------------------------------------------
// Strings

/** Strings picked to break storage, parsers, logs and object lookups. */
export const nastyStrings: readonly string[] = [
  "'; DROP TABLE complaint; --",
  "' OR '1'='1",
  'Robert"); DELETE FROM complaint WHERE ("1"="1',
  '\\',
  '\\x00',
  '$1',
  "E'\\\\x00'",
  '%s%n%x',
  '{{7*7}}',
  '${process.exit()}',
  '<script>alert(1)</script>',
  '../../etc/passwd',
  '💧🚱🚰',
  '👩‍🔧 crew on the way',
  'e\u0301\u0301\u0301',
  '\u202Eevil\u202C',
  'مياه مقطوعة منذ الصباح',
  'אין מים',
  '水が出ない',
  'ไม่มีน้ำ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  'x\udfffy',
  '\udbff\udbff',
  '\uFEFF',
  '\u200B',
  '\u2028\u2029',
  '\r\n',
  '\t',
  '\u0007\u001b[31m',
  ' ',
  '',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'NaN',
  'Infinity',
  '-Infinity',
  'null',
  'undefined',
  '1e400',
  '0x10',
  'a'.repeat(5000),
  'b'.repeat(5001),
];

/** Any UTF-16 code unit, so lone surrogates and control characters appear. */
const anyCodeUnit = fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit));

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...nastyStrings),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.string({ unit: anyCodeUnit, maxLength: 12 }),
  fc.tuple(fc.string({ maxLength: 8 }), fc.constantFrom(...nastyStrings), fc.string({ maxLength: 8 })).map((parts) => parts.join('')),
);

/** Text people write (any script, emoji, SQL-looking text), non-blank once trimmed. */
export const printableText = (maxLength: number, minTrimmed = 1): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.string({ unit: 'grapheme', minLength: minTrimmed, maxLength: Math.min(maxLength, 60) }),
      fc.constantFrom(...nastyStrings.filter((text) => /^[^\u0000\ud800-\udfff]*$/.test(text))),
      fc.tuple(fc.constantFrom(' ', '\t', '\n', '\u3000', ''), fc.string({ unit: 'grapheme-ascii', minLength: minTrimmed, maxLength: 20 }), fc.constantFrom(' ', '\r\n', '')).map((parts) => parts.join('')),
    )
    .filter((text) => text.trim().length >= minTrimmed && text.trim().length <= maxLength);

/** Keys an object should never trust. */
export const hostileKey: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', '', 'a.b', '[0]', '0', 'by', 'id', 'seq', 'zone', 'extra'),
  hostileString.filter((key) => key.length <= 40),
);

// ---------------------------------------------------------------------------------------------
// JSON text

/** Number tokens, including those JSON.parse turns into Infinity, -0 or a rounded value. */
export const numberToken: fc.Arbitrary<string> = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => JSON.stringify(value)),
  fc.integer().map(String),
  fc.constantFrom('1e400', '-1e400', '1e-400', '-0', '0.0', '1E+2', '123456789012345678901234567890', '9007199254740993', '-90.0000000000000001', '4.9e-324', '8640000000000001'),
);

export const stringToken: fc.Arbitrary<string> = fc.oneof(
  hostileString.map((text) => JSON.stringify(text)),
  fc.constantFrom('"\\u0000"', '"\\ud800"', '"\\udc00\\ud800"', '"NaN"', '"Infinity"', '"1e400"', '"2026-02-31T00:00:00Z"'),
);

/** A JSON object written field by field: a field may hold any JSON text, appear twice or be "__proto__". */
export type Fields = Array<[key: string, valueText: string]>;

export const objectText = (fields: Fields): string => `{${fields.map(([key, value]) => `${JSON.stringify(key)}:${value}`).join(',')}}`;

export const jsonText: fc.Arbitrary<string> = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, fc.constantFrom('null', 'true', 'false'), numberToken, stringToken, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }).map((items) => `[${items.join(',')}]`),
  object: fc.array(fc.tuple(hostileKey, tie('value')), { maxLength: 5 }).map(objectText),
})).value;

/** Arrays or objects nested thousands deep. */
export const deepJsonText: fc.Arbitrary<string> = fc
  .tuple(fc.integer({ min: 1_000, max: 20_000 }), fc.constantFrom('array', 'object'))
  .map(([depth, kind]) => (kind === 'array' ? `${'['.repeat(depth)}${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));

/** Every path in a JSON value, to `maxDepth` levels (the root is []). */
export function jsonPaths(value: unknown, maxDepth: number, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const paths: Array<Array<string | number>> = [prefix];
  if (maxDepth === 0 || value === null || typeof value !== 'object') return paths;
  if (Array.isArray(value)) value.forEach((item, index) => paths.push(...jsonPaths(item, maxDepth - 1, [...prefix, index])));
  else for (const key of Object.keys(value)) paths.push(...jsonPaths((value as Record<string, unknown>)[key], maxDepth - 1, [...prefix, key]));
  return paths;
}

/** The value at a path, and whether it is there (own properties only). */
export function valueAt(value: unknown, path: ReadonlyArray<string | number>): { found: boolean; value?: unknown } {
  let current = value;
  for (const part of path) {
    if (current === null || typeof current !== 'object' || !Object.hasOwn(current, part)) return { found: false };
    current = (current as Record<string | number, unknown>)[part];
  }
  return { found: true, value: current };
}

// ---------------------------------------------------------------------------------------------
// Bytes

/** Byte sequences that are not UTF-8: stray continuation bytes, overlong forms, truncated sequences, surrogates, beyond U+10FFFF. */
export const invalidUtf8: fc.Arbitrary<Buffer> = fc
  .oneof(
    fc.constantFrom([0x80], [0xbf], [0xc0, 0xaf], [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x92], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xfe], [0xff, 0xff], [0xc3, 0x28]),
    fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 6 }),
  )
  .map((bytes) => Buffer.from(bytes));

/** Inserts bytes at a position (taken modulo the length) of a buffer. */
export const spliceBytes = (into: Buffer, at: number, bytes: Buffer): Buffer => {
  const index = into.length === 0 ? 0 : at % (into.length + 1);
  return Buffer.concat([into.subarray(0, index), bytes, into.subarray(index)]);
};

// ---------------------------------------------------------------------------------------------
// Times

/** 0000-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z, less a day at each end so that any offset keeps four year digits. */
export const FOUR_DIGIT_YEARS = { minMs: -62_167_219_200_000 + 86_400_000, maxMs: 253_402_300_799_999 - 86_400_000 };

/** ISO 8601 of `ms` as a clock at `offsetMinutes` from UTC shows it: `2026-02-01T07:00:00.000+07:00`, or `Z` at offset 0 when `zulu`. */
export function isoWithOffset(ms: number, offsetMinutes: number, options: { zulu?: boolean; millis?: boolean; separator?: 'T' | ' ' } = {}): string {
  const local = new Date(ms + offsetMinutes * 60_000).toISOString();
  const sign = offsetMinutes < 0 ? '-' : '+';
  const hours = String(Math.floor(Math.abs(offsetMinutes) / 60)).padStart(2, '0');
  const minutes = String(Math.abs(offsetMinutes) % 60).padStart(2, '0');
  const zone = offsetMinutes === 0 && options.zulu ? 'Z' : `${sign}${hours}:${minutes}`;
  const clock = options.millis === false ? local.slice(0, 19) : local.slice(0, 23);
  return `${clock.slice(0, 10)}${options.separator ?? 'T'}${clock.slice(11)}${zone}`;
}

export const offsetMinutes = fc.oneof(fc.constantFrom(0, 420, -300, 330, 345, -210, 840, -720), fc.integer({ min: -23 * 60 - 59, max: 23 * 60 + 59 }));

/** Whole ms anywhere in years 0000-9999, weighted towards the edges and today. */
export const calendarMs: fc.Arbitrary<number> = fc.oneof(
  fc.integer({ min: FOUR_DIGIT_YEARS.minMs, max: FOUR_DIGIT_YEARS.maxMs }),
  fc.constantFrom(FOUR_DIGIT_YEARS.minMs, FOUR_DIGIT_YEARS.maxMs, 0, -1, Date.UTC(2026, 1, 28, 23, 59, 59, 999), Date.UTC(2024, 1, 29)),
  fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
);

/** An ISO 8601 time with a zone that zod's `iso.datetime({ offset: true })` takes. */
export const isoDateTime: fc.Arbitrary<string> = fc
  .tuple(calendarMs, offsetMinutes, fc.boolean(), fc.boolean())
  .map(([ms, offset, zulu, millis]) => isoWithOffset(ms, offset, { zulu, millis }));

// ---------------------------------------------------------------------------------------------
// Complaints

export const latLon = fc.record({
  lat: fc.double({ min: -90, max: 90, noNaN: true }).map((value) => (Object.is(value, -0) ? 0 : value)),
  lon: fc.double({ min: -180, max: 180, noNaN: true }).map((value) => (Object.is(value, -0) ? 0 : value)),
});

export const complaintLocation = fc.oneof(
  latLon,
  fc.constant({ lat: -6.8915, lon: 107.6105 }),
  printableText(500, 3).map((address) => ({ address })),
  fc.constantFrom('Jalan Merdeka 12', 'JL. BRAGA no 7').map((address) => ({ address })),
  printableText(64).map((account) => ({ account })),
);

/** A complaint body the API must accept, its text free to be anything people write. */
export const validComplaint = fc.record(
  {
    channel: fc.constantFrom(...complaintChannels),
    category: fc.constantFrom(...complaintCategories),
    location: complaintLocation,
    text: fc.oneof({ arbitrary: printableText(5000), weight: 5 }, { arbitrary: fc.constantFrom('x'.repeat(5000), ` ${'y'.repeat(5000)}\n`), weight: 1 }),
    contact: printableText(200),
    external_id: printableText(200),
    reported_at: isoDateTime,
  },
  { requiredKeys: ['channel', 'category', 'location', 'text'] },
);

export const fieldsOf = (value: object): Fields => Object.entries(value).map(([key, item]) => [key, JSON.stringify(item)]);

/** A replacement for a field's value: any JSON, the wrong type, numbers out of range, deep nesting, a huge string. */
export const hostileValue: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: jsonText, weight: 6 },
  { arbitrary: numberToken, weight: 3 },
  { arbitrary: stringToken, weight: 4 },
  {
    // Locations almost right: out of range, numbers as strings, an extra "__proto__", NUL, a lone surrogate, two forms at once.
    arbitrary: fc.constantFrom(
      objectText([['lat', '1e400'], ['lon', '0']]),
      objectText([['lat', '"NaN"'], ['lon', '"Infinity"']]),
      objectText([['lat', '-6.9'], ['lon', '107.6'], ['__proto__', '{"admin":true}']]),
      objectText([['address', '"\\u0000Jalan"']]),
      objectText([['account', '"\\ud800"']]),
      objectText([['address', '"x"'], ['account', '"y"']]),
    ),
    weight: 2,
  },
  { arbitrary: deepJsonText, weight: 1 },
  { arbitrary: fc.integer({ min: 5_001, max: 20_000 }).map((length) => JSON.stringify('z'.repeat(length))), weight: 1 },
);

/** Edits a complaint's fields: delete, replace with hostile JSON, add unknown or prototype keys, duplicate. */
export const fieldMutation = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: hostileValue }),
  fc.record({ kind: fc.constant('add' as const), key: hostileKey, value: hostileValue }),
  fc.record({ kind: fc.constant('duplicate' as const), at: fc.nat(), value: hostileValue }),
);
export type FieldMutation = typeof fieldMutation extends fc.Arbitrary<infer T> ? T : never;

export function mutateFields(fields: Fields, mutations: readonly FieldMutation[]): Fields {
  const out = fields.slice();
  for (const mutation of mutations) {
    const index = out.length === 0 ? 0 : ('at' in mutation ? mutation.at : 0) % out.length;
    if (mutation.kind === 'delete') out.splice(index, 1);
    else if (mutation.kind === 'replace' && out[index] !== undefined) out[index] = [out[index]![0], mutation.value];
    else if (mutation.kind === 'duplicate' && out[index] !== undefined) out.push([out[index]![0], mutation.value]);
    else if (mutation.kind === 'add') out.push([mutation.key, mutation.value]);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Telemetry

/** The contract's time range: epoch ms from 1970 to 2243. */
export const EPOCH_MS_MAX = 8_640_000_000_000;

const finiteValue = fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => (Object.is(value, -0) ? 0 : value));

export const telemetryBatch = (site: string, tags: readonly string[]): fc.Arbitrary<TelemetryBatch> =>
  fc.record(
    {
      site: fc.constant(site),
      device: fc.oneof(fc.constantFrom('plc-dma', 'plc-pump-station'), fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 })),
      seq: fc.oneof(fc.nat(), fc.maxSafeNat()),
      poll_ts_ms: fc.oneof(fc.integer({ min: 0, max: EPOCH_MS_MAX }), fc.constantFrom(0, EPOCH_MS_MAX)),
      historical: fc.boolean(),
      samples: fc.array(
        fc.record(
          {
            tag: fc.oneof({ arbitrary: fc.constantFrom(...tags), weight: 4 }, { arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 64 }).filter((tag) => tag.length <= 64), weight: 1 }),
            value: fc.option(finiteValue, { nil: null }),
            quality: fc.constantFrom(...qualities),
            source_status: fc.oneof(fc.integer(), fc.constantFrom(-1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER)),
            source_ts_ms: fc.oneof(fc.integer({ min: 0, max: EPOCH_MS_MAX }), fc.constantFrom(0, EPOCH_MS_MAX), fc.integer({ min: Date.UTC(2026, 0, 1), max: Date.UTC(2026, 0, 2) })),
          },
          { requiredKeys: ['tag', 'value', 'quality', 'source_ts_ms'] },
        ),
        { maxLength: 20 },
      ),
    },
    { requiredKeys: ['site', 'device', 'seq', 'poll_ts_ms', 'historical', 'samples'] },
  );
