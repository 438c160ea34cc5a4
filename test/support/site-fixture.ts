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

/**
 * The demo site, made quick: every sample published (a live chart moves at once), DMA 2's
 * pressure alarms after 5 s instead of 60, and a work order opened 2 s after its incident
 * settles; without auto-assignment when a test's dispatcher assigns.
 */
export async function quickDemoSite(options: { autoAssign: boolean }): Promise<SiteConfig> {
  const site = await demoSiteOnFreePorts();
  return {
    ...site,
    connector: { ...site.connector, publish: { ...site.connector.publish, max_interval_ms: 0 } },
    tags: site.tags.map((tag) => (tag.zone === 'dma-2' && tag.kind === 'pressure' && tag.alarms !== undefined ? { ...tag, alarms: { ...tag.alarms, on_delay_s: 5 } } : tag)),
    correlation: { ...site.correlation, work_order: { ...site.correlation.work_order, settle_ms: 2_000 } },
    dispatch: { ...site.dispatch, auto_assign: options.autoAssign },
  };
}
