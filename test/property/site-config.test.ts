// Properties of the site file loader: any mutation of the demo site (a key deleted, a value of
// the wrong type, NaN, a huge string, a duplicate id, an unknown or prototype key) and any
// hostile text (alias bombs, deep nesting, truncation, stray bytes) gives either a valid
// SiteConfig or a ConfigError whose issues name where, never another exception, and in bounded time.
import { readFileSync } from 'node:fs';
import { expect } from 'chai';
import fc from 'fast-check';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { parseSiteConfig } from '../../src/config/site-loader.js';
import { siteConfigSchema, type SiteConfig } from '../../src/contracts/site.js';
import { ConfigError } from '../../src/errors.js';
import { hostileKey, hostileString, invalidUtf8, jsonPaths, spliceBytes, valueAt } from './arbitraries.js';

const FILE = 'sites/property.yaml';
/** A generous bound for one file on a loaded CI machine; the demo site parses in about 10 ms. */
const TIME_BOUND_MS = 2_000;
const TOP_LEVEL_KEYS = Object.keys(siteConfigSchema.shape);
const demoText = readFileSync('config/demo-town.yaml', 'utf8');
const demo = parseYaml(demoText) as Record<string, unknown>;

type PathPart = string | number;

/** Reads back a path written by formatPath: `tags[3].modbus.address`, `zones[0]["a.b"]`. */
function parsePath(text: string): PathPart[] | undefined {
  const parts: PathPart[] = [];
  const token = /\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]|\.?([^.[\]]+)/y;
  while (token.lastIndex < text.length) {
    const match = token.exec(text);
    if (match === null) return undefined;
    parts.push(match[1] !== undefined ? Number(match[1]) : match[2] !== undefined ? (JSON.parse(match[2]) as string) : match[3]!);
  }
  return parts;
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

/** Sets an own property, "__proto__" included (plain assignment would change the prototype instead). */
function setOwn(target: object, key: PathPart, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

const hugeString = fc.integer({ min: 10_000, max: 200_000 }).map((length) => 'x'.repeat(length));
const nestedArrays = fc.integer({ min: 1, max: 300 }).map((depth) => {
  let value: unknown = [];
  for (let index = 0; index < depth; index += 1) value = [value];
  return value;
});

/** Values of every wrong kind, for any place in the file. */
const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, -0, 0.5, -1e308, 1e308, 2 ** 53 + 1, 65_536, 65_537, '', ' ', true, false, null, [], {}, '__proto__', 'constructor', '*alias', '&anchor', '!!binary', '{a: 1}', '- x'),
  fc.integer(),
  fc.double(),
  hostileString,
  hugeString,
  nestedArrays,
  fc.dictionary(hostileKey, fc.oneof(fc.integer(), hostileString), { maxKeys: 3 }),
  fc.array(fc.oneof(fc.integer(), hostileString), { maxLength: 3 }),
);

type Mutation =
  | { kind: 'delete'; at: number }
  | { kind: 'replace'; at: number; value: unknown }
  | { kind: 'add-key'; at: number; key: string; value: unknown }
  | { kind: 'copy-sibling'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), value: wrongValue }),
  fc.record({ kind: fc.constant('add-key' as const), at: fc.nat(), key: hostileKey, value: wrongValue }),
  // An element of an array written twice: duplicate ids, units, accounts.
  fc.record({ kind: fc.constant('copy-sibling' as const), at: fc.nat() }),
);

function applyMutation(document: Record<string, unknown>, change: Mutation): void {
  const paths = jsonPaths(document, 12).filter((path) => path.length > 0);
  if (paths.length === 0) return;
  const path = paths[change.at % paths.length]!;
  const parent = valueAt(document, path.slice(0, -1)).value as Record<PathPart, unknown> | unknown[];
  const last = path[path.length - 1]!;
  switch (change.kind) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(last as number, 1);
      else delete parent[last];
      return;
    case 'replace':
      setOwn(parent, last, change.value);
      return;
    case 'add-key': {
      const target = valueAt(document, path).value;
      if (target !== null && typeof target === 'object' && !Array.isArray(target)) setOwn(target, change.key, change.value);
      else setOwn(parent, last, { [last]: target, ...Object.fromEntries([[change.key, change.value]]) });
      return;
    }
    case 'copy-sibling':
      if (Array.isArray(parent)) parent.push(clone(parent[last as number]));
      return;
  }
}

/** Text-level damage YAML parsing must survive. */
const textDamage = fc.oneof(
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), text: fc.oneof(hostileString, fc.constantFrom('\t', ': ', '- ', '{', '[', ']', '}', '"', "'", '&a ', '*a ', '!!str ', '? ', '%YAML 1.1\n', '---\n', '...\n', '<<: *a\n', '\n  \t')) }),
  fc.record({ kind: fc.constant('bytes' as const), at: fc.nat(), bytes: invalidUtf8 }),
  fc.constant({ kind: 'crlf' as const }),
  fc.constant({ kind: 'bom' as const }),
);
type TextDamage = typeof textDamage extends fc.Arbitrary<infer T> ? T : never;

function damage(text: string, how: TextDamage): string {
  switch (how.kind) {
    case 'truncate':
      return text.slice(0, how.at % (text.length + 1));
    case 'insert': {
      const at = how.at % (text.length + 1);
      return text.slice(0, at) + how.text + text.slice(at);
    }
    case 'bytes':
      // As loadSiteConfig reads a file: UTF-8, invalid sequences replaced.
      return spliceBytes(Buffer.from(text), how.at, how.bytes).toString('utf8');
    case 'crlf':
      return text.replace(/\n/g, '\r\n');
    case 'bom':
      return `\uFEFF${text}`;
  }
}

/** Billion laughs: `levels` anchors, each aliasing the one before `width` times. */
const aliasBomb = fc.record({ kind: fc.constant('alias-bomb' as const), levels: fc.integer({ min: 2, max: 12 }), width: fc.integer({ min: 2, max: 12 }), where: fc.constantFrom('detection', 'tags', 'unknown_key', 'zones') });

function aliasBombText({ levels, width, where }: { levels: number; width: number; where: string }): string {
  const lines = ['x-anchors:', '  l0: &l0 ["lol", "lol"]'];
  for (let level = 1; level < levels; level += 1) lines.push(`  l${level}: &l${level} [${Array.from({ length: width }, () => `*l${level - 1}`).join(', ')}]`);
  // The bomb goes off as the value of a real key (its original renamed) or of an unknown one.
  const key = where === 'unknown_key' ? 'bomb' : where;
  return `${demoText.replace(`\n${key}:`, `\n${key}_original:`)}\n${lines.join('\n')}\n${key}: *l${levels - 1}\n`;
}

const deepNesting = fc.record({ kind: fc.constant('deep' as const), depth: fc.integer({ min: 10, max: 12_000 }), style: fc.constantFrom('flow-seq', 'flow-map', 'block-map', 'block-seq') });

function deepNestingText({ depth, style }: { depth: number; style: string }): string {
  switch (style) {
    case 'flow-seq':
      return `${demoText}\ndetection: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
    case 'flow-map':
      return `${demoText}\ndetection: ${'{a: '.repeat(depth)}1${'}'.repeat(depth)}\n`;
    case 'block-map':
      return `site:\n${Array.from({ length: Math.min(depth, 1_500) }, (_, index) => `${' '.repeat(index + 1)}k${index}:`).join('\n')} 1\n`;
    case 'block-seq':
      return `zones:\n${Array.from({ length: Math.min(depth, 1_500) }, (_, index) => `${' '.repeat(index * 2 + 1)}-`).join('\n')} 1\n`;
    default:
      throw new Error(`no style ${style}`);
  }
}

interface Outcome {
  config?: SiteConfig;
  error?: ConfigError;
}

/** Parses within the time bound; anything thrown but a ConfigError fails the property. */
function load(text: string): Outcome {
  const started = performance.now();
  let outcome: Outcome;
  try {
    outcome = { config: parseSiteConfig(text, FILE) };
  } catch (error) {
    expect(error, `threw ${(error as Error)?.constructor?.name}: ${(error as Error)?.message}`).to.be.instanceOf(ConfigError);
    outcome = { error: error as ConfigError };
  }
  expect(performance.now() - started, 'parse time (ms)').to.be.below(TIME_BOUND_MS);
  return outcome;
}

/** A ConfigError names the file and, for each issue, where: a path into the document, or a line and column. */
function expectNamedIssues(error: ConfigError, document?: unknown): void {
  expect(error.file).to.equal(FILE);
  expect(error.message).to.contain(FILE);
  expect(error.issues).to.be.an('array').that.is.not.empty;
  for (const issue of error.issues) {
    const context = `issue ${JSON.stringify(issue).slice(0, 300)}`;
    expect(issue.message, context).to.be.a('string').that.is.not.empty;
    if (issue.path === '') {
      // The document itself: a YAML error at a line and column, a root that is not a mapping, or an unknown top-level key.
      expect(issue.message, context).to.match(/line \d+ column \d+|expected object|Unrecognized key|alias|nest/i);
      continue;
    }
    const parts = parsePath(issue.path);
    expect(parts, `unparseable path: ${context}`).to.not.equal(undefined);
    expect(TOP_LEVEL_KEYS, context).to.include(parts![0]);
    if (document === undefined) continue;
    // The place exists, or all but its last one or two steps do (a missing key, a default block checked as a whole).
    let resolved = 0;
    while (resolved < parts!.length && valueAt(document, parts!.slice(0, resolved + 1)).found) resolved += 1;
    expect(resolved, `path does not lead into the document: ${context}`).to.be.at.least(parts!.length - 2);
  }
}

/** A valid outcome is a fixed point: validating it again changes nothing. */
function expectStable(config: SiteConfig): void {
  expect(siteConfigSchema.parse(structuredClone(config))).to.deep.equal(config);
}

describe('property: site file loader', function () {
  this.timeout(120_000);

  it('loads the demo site unchanged, as YAML and as JSON', () => {
    expect(load(demoText).config).to.not.equal(undefined);
    expect(load(stringifyYaml(demo)).config).to.deep.equal(load(demoText).config);
    expect(load(JSON.stringify(demo)).config).to.deep.equal(load(demoText).config);
  });

  it('a mutated site is a valid SiteConfig or a ConfigError naming paths that exist', () => {
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.constantFrom('yaml', 'json'), (mutations, format) => {
        const document = clone(demo);
        for (const change of mutations) applyMutation(document, change);
        // JSON has no NaN or Infinity; those become null there.
        const text = format === 'yaml' ? stringifyYaml(document) : JSON.stringify(document);
        const outcome = load(text);
        if (outcome.error !== undefined) expectNamedIssues(outcome.error, format === 'yaml' ? document : JSON.parse(text));
        else expectStable(outcome.config!);
      }),
      { numRuns: 150 },
    );
  });

  it('a duplicate zone, device, tag or poll group id is named at the second one', () => {
    const lists = ['zones', 'devices', 'tags', 'devices[0].poll_groups'] as const;
    fc.assert(
      fc.property(fc.constantFrom(...lists), fc.nat(), fc.nat(), (list, first, second) => {
        const document = clone(demo);
        const items = valueAt(document, parsePath(list)!).value as Array<{ id: string }>;
        const [from, to] = [first % items.length, second % items.length].sort((a, b) => a - b) as [number, number];
        fc.pre(from !== to);
        items[to]!.id = items[from]!.id;
        const { error } = load(stringifyYaml(document));
        expect(error, 'duplicate id accepted').to.not.equal(undefined);
        expectNamedIssues(error!, document);
        expect(error!.issues.map((issue) => issue.path)).to.include(`${list}[${to}].id`);
      }),
      { numRuns: 60 },
    );
  });

  it('damaged text (truncated, stray characters and bytes, CRLF, BOM) is loaded or refused with a ConfigError', () => {
    fc.assert(
      fc.property(fc.array(textDamage, { minLength: 1, maxLength: 3 }), (damages) => {
        const text = damages.reduce(damage, demoText);
        const outcome = load(text);
        if (outcome.error !== undefined) expectNamedIssues(outcome.error);
        else expectStable(outcome.config!);
      }),
      { numRuns: 100 },
    );
  });

  it('alias bombs and deep nesting are refused with a ConfigError, quickly', () => {
    fc.assert(
      fc.property(fc.oneof(aliasBomb, deepNesting), (bomb) => {
        const { error } = load(bomb.kind === 'alias-bomb' ? aliasBombText(bomb) : deepNestingText(bomb));
        expect(error, 'accepted').to.not.equal(undefined);
        expectNamedIssues(error!);
      }),
      { numRuns: 40 },
    );
  });
});
