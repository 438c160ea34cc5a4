// Complaint placement as tables: street names in free-text addresses, account numbers, the
// accounts CSV, and where each location form lands.
import { readFile } from 'node:fs/promises';
import { expect } from 'chai';
import { placeLocation, type LocationLookup } from '../../src/complaints/complaint-location.js';
import { parseAccountsCsv, parseCsv } from '../../src/complaints/customer-accounts.js';
import { addressWords, StreetGeocoder } from '../../src/complaints/geocoder.js';
import type { ComplaintLocation } from '../../src/contracts/complaint.js';
import { accountKey, customerDirectoryIssues, customerDirectorySchema } from '../../src/contracts/customers.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { loadSiteConfig } from '../../src/config/site-loader.js';
import { ConfigError } from '../../src/errors.js';

const streets = customerDirectorySchema.parse({
  streets: [
    { name: 'Jalan Merdeka', aliases: ['Jl Merdeka Lama'], zone: 'dma-1' },
    { name: 'Jl. Merdeka Raya', zone: 'dma-2', location: { lat: -6.905, lon: 107.61 } },
    { name: 'Braga', zone: 'dma-2' },
    { name: 'Gang Sukajadi', zone: 'dma-3' },
  ],
}).streets;

describe('complaint location: address words', () => {
  const cases: Array<[string, string[]]> = [
    ['Jl. Merdeka No. 5', ['merdeka', 'no', '5']],
    ['JALAN  merdeka,RT 02/RW 03', ['merdeka', 'rt', '02', 'rw', '03']],
    ['jln.Braga', ['braga']],
    ['Jl Cikapundung Kidul', ['cikapundung', 'kidul']],
    ['Jalan Ciumbuléuit', ['ciumbuleuit']],
    ['  ', []],
  ];
  for (const [text, words] of cases) it(`"${text}" -> ${words.join(' ') || '(none)'}`, () => expect(addressWords(text)).to.deep.equal(words));
});

describe('complaint location: street geocoder', () => {
  const geocoder = new StreetGeocoder(streets);
  const cases: Array<[string, string | undefined]> = [
    ['Jl. Merdeka No. 5, RT 02', 'Jalan Merdeka'],
    ['jalan merdeka raya 10', 'Jl. Merdeka Raya'],
    ['JL MERDEKA LAMA 3', 'Jalan Merdeka'],
    ['depan toko, Braga 20', 'Braga'],
    ['Jl. Bragaindah 1', undefined],
    ['gg. sukajadi', 'Gang Sukajadi'],
    ['Gang Sukajadi no 1', 'Gang Sukajadi'],
    ['Jl. Asia Afrika 8', undefined],
  ];
  for (const [address, street] of cases) it(`"${address}" -> ${street ?? 'no street'}`, () => expect(geocoder.match(address)?.name).to.equal(street));

  it('answers a zone, with the street point when it has one', async () => {
    expect(await geocoder.geocode('Jl. Merdeka 1')).to.deep.equal({ zone: 'dma-1' });
    expect(await geocoder.geocode('Jl. Merdeka Raya 1')).to.deep.equal({ lat: -6.905, lon: 107.61, zone: 'dma-2' });
    expect(await geocoder.geocode('nowhere street')).to.equal(undefined);
  });
});

describe('complaint location: account numbers', () => {
  const cases: Array<[string, string]> = [
    ['01-2345-67', '01234567'],
    ['01 2345 67', '01234567'],
    ['ab.12/3', 'AB123'],
  ];
  for (const [account, key] of cases) it(`"${account}" -> ${key}`, () => expect(accountKey(account)).to.equal(key));
});

describe('complaint location: placement', () => {
  let site: SiteConfig;
  before(async () => {
    site = await loadSiteConfig('config/demo-town.yaml');
  });

  const inDma1 = { lat: -6.8915, lon: 107.6105 };
  const cases: Array<{ name: string; location: ComplaintLocation; lookup: LocationLookup; expected: object }> = [
    { name: 'coordinates in a zone', location: inDma1, lookup: { kind: 'coordinates' }, expected: { zone: 'dma-1', status: 'in_zone', lat: inDma1.lat } },
    { name: 'coordinates outside every zone', location: { lat: -7.25, lon: 112.75 }, lookup: { kind: 'coordinates' }, expected: { zone: null, status: 'outside_zones', lat: -7.25 } },
    { name: 'unknown account', location: { account: 'X' }, lookup: { kind: 'account', found: undefined }, expected: { zone: null, status: 'unresolved', lat: null } },
    { name: 'account with zone only', location: { account: 'X' }, lookup: { kind: 'account', found: { account: 'X', zone: 'dma-3', lat: null, lon: null } }, expected: { zone: 'dma-3', status: 'in_zone', lat: null } },
    {
      name: "account's zone wins over its point's",
      location: { account: 'X' },
      lookup: { kind: 'account', found: { account: 'X', zone: 'dma-3', lat: inDma1.lat, lon: inDma1.lon } },
      expected: { zone: 'dma-3', status: 'in_zone', lat: inDma1.lat },
    },
    { name: 'account in a zone the site lacks', location: { account: 'X' }, lookup: { kind: 'account', found: { account: 'X', zone: 'dma-9', lat: null, lon: null } }, expected: { status: 'unresolved' } },
    { name: 'address not found', location: { address: 'somewhere' }, lookup: { kind: 'address', found: undefined }, expected: { status: 'unresolved', zone: null } },
    { name: 'address geocoded to a point', location: { address: 'somewhere' }, lookup: { kind: 'address', found: inDma1 }, expected: { zone: 'dma-1', status: 'in_zone', lon: inDma1.lon } },
    { name: 'address geocoded outside every zone', location: { address: 'somewhere' }, lookup: { kind: 'address', found: { lat: 0, lon: 0 } }, expected: { zone: null, status: 'outside_zones', lat: 0 } },
    { name: 'address geocoded to a zone', location: { address: 'somewhere' }, lookup: { kind: 'address', found: { zone: 'dma-2' } }, expected: { zone: 'dma-2', status: 'in_zone', lat: null } },
  ];
  for (const { name, location, lookup, expected } of cases) it(name, () => expect(placeLocation(location, lookup, site)).to.include(expected));
});

describe('complaint location: accounts CSV', () => {
  it('splits quoted fields with commas, quotes and line breaks', () => {
    expect(parseCsv('a,b\r\n"x, y","say ""hi"""\n"two\nlines",\n\n')).to.deep.equal([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['two\nlines', ''],
    ]);
  });

  it('reads the test directory file', async () => {
    const accounts = parseAccountsCsv(await readFile('test/testcases/complaints/accounts.csv', 'utf8'), 'accounts.csv');
    expect(accounts).to.deep.equal([
      { account: '02-0001-01', zone: 'dma-2', location: { lat: -6.907, lon: 107.61 }, address: 'Jl. Braga No. 12, RT 03' },
      { account: '02-0001-02', zone: 'dma-2', address: 'Jl. Braga No. 14' },
      { account: '03-0007-11', zone: 'dma-3', location: { lat: -6.9, lon: 107.63 }, address: 'Jalan Cikapundung Timur 7, "Blok C"' },
    ]);
  });

  const failures: Array<[string, string, string[]]> = [
    ['missing zone column', 'account,lat,lon\n1,2,3\n', ['line 1']],
    ['unknown column', 'account,zone,meter\n1,dma-1,x\n', ['line 1']],
    ['lat without lon', 'account,zone,lat,lon\n1,dma-1,-6.9,\n', ['line 2: lon']],
    ['lat not a number', 'account,zone,lat,lon\n1,dma-1,north,107\n', ['line 2: lat']],
    ['lat out of range', 'account,zone,lat,lon\n1,dma-1,-96,107\n2,dma-1,-6,200\n', ['line 2: lat', 'line 3: lon']],
    ['empty account', 'account,zone\n,dma-1\n', ['line 2: account']],
    ['wrong number of fields', 'account,zone\n1,dma-1,extra\n', ['line 2']],
  ];
  for (const [name, text, paths] of failures) {
    it(`refuses: ${name}, naming ${paths.join(', ')}`, () => {
      try {
        parseAccountsCsv(text, 'accounts.csv');
        expect.fail('expected a ConfigError');
      } catch (error) {
        expect(error).to.be.instanceOf(ConfigError);
        expect((error as ConfigError).issues.map((issue) => issue.path)).to.deep.equal(paths);
      }
    });
  }
});

describe('complaint location: directory cross-checks', () => {
  it('names unknown zones and duplicate accounts', () => {
    const directory = customerDirectorySchema.parse({
      accounts: [
        { account: '01-1', zone: 'dma-1' },
        { account: '011', zone: 'dma-9' },
      ],
      streets: [{ name: 'Braga', zone: 'dma-7' }],
    });
    expect(customerDirectoryIssues(directory, new Set(['dma-1']))).to.deep.equal([
      { path: ['accounts', 1, 'zone'], message: 'unknown zone "dma-9"' },
      { path: ['accounts', 1, 'account'], message: 'duplicate account "011" (first at index 0)' },
      { path: ['streets', 0, 'zone'], message: 'unknown zone "dma-7"' },
    ]);
  });
});
