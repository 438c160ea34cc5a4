// Site config cases as data: each folder under test/testcases/site-config holds a site file
// and the expected outcome (valid, or the path and message of the first expected error).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { loadSiteConfig } from '../../src/config/site-loader.js';
import { ConfigError } from '../../src/errors.js';

const casesDir = path.resolve('test/testcases/site-config');

describe('site config loader', () => {
  for (const name of readdirSync(casesDir).sort()) {
    const dir = path.join(casesDir, name);
    const siteFile = readdirSync(dir).find((file) => file.startsWith('site.'))!;
    const expected = JSON.parse(readFileSync(path.join(dir, 'expected.json'), 'utf8')) as { valid?: true; path?: string; message?: string };
    it(`${name}: ${expected.valid ? 'loads' : `rejects at ${expected.path || '(document)'}`}`, async () => {
      const file = path.join(dir, siteFile);
      if (expected.valid) {
        const config = await loadSiteConfig(file);
        expect(config.site.id).to.equal('t');
        return;
      }
      const error = await loadSiteConfig(file).then(
        () => expect.fail('the config should have been rejected'),
        (caught: unknown) => caught,
      );
      expect(error).to.be.instanceOf(ConfigError);
      const configError = error as ConfigError;
      expect(configError.file).to.equal(file);
      expect(configError.message).to.contain(file);
      const issue = configError.issues.find((candidate) => candidate.path === expected.path);
      expect(issue, `issues: ${JSON.stringify(configError.issues)}`).to.not.equal(undefined);
      expect(issue!.message).to.contain(expected.message);
    });
  }

  it('loads the demo plant config shipped in config/', async () => {
    const config = await loadSiteConfig('config/demo-town.yaml');
    expect(config.zones.map((zone) => zone.id)).to.deep.equal(['dma-1', 'dma-2', 'dma-3']);
    expect(config.tags.length).to.be.greaterThan(10);
    expect(config.zones[0]!.critical_customers.some((customer) => customer.kind === 'hospital')).to.equal(true);
  });

  it('names a missing file', async () => {
    const error = (await loadSiteConfig('no/such/site.yaml').catch((caught: unknown) => caught)) as ConfigError;
    expect(error).to.be.instanceOf(ConfigError);
    expect(error.message).to.contain('no/such/site.yaml').and.to.contain('file not found');
  });

  it('fills defaults: addressing 0, byte order ABCD, scale 1, offset 0', async () => {
    const config = await loadSiteConfig(path.join(casesDir, 'valid-minimal/site.yaml'));
    const device = config.devices[0]!;
    expect(device.protocol === 'modbus' && device.addressing).to.equal(0);
    expect(config.tags[0]!.modbus).to.include({ byte_order: 'ABCD', scale: 1, offset: 0 });
  });
});
