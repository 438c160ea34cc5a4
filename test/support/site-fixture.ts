// The demo site with a unique id (topics of parallel tests never mix) and free ports for its PLCs.
import { loadSiteConfig } from '../../src/config/site-loader.js';
import type { SiteConfig } from '../../src/contracts/site.js';
import { freePort } from '../../src/runtime/embedded-services.js';
import { uniqueId } from './services.js';

export async function demoSiteOnFreePorts(): Promise<SiteConfig> {
  const site = await loadSiteConfig('config/demo-town.yaml');
  const devices = [];
  for (const device of site.devices) {
    const endpoint = new URL(device.endpoint);
    devices.push({ ...device, endpoint: `${endpoint.protocol}//127.0.0.1:${await freePort()}` });
  }
  return { ...site, site: { ...site.site, id: uniqueId('demo') }, devices };
}
