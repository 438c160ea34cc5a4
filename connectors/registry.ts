// Connectors by protocol: a plain map from the device's protocol to the factory that polls it.
import type { Device, SiteConfig } from '../src/contracts/site.js';
import type { Logger } from '../src/log.js';
import type { DeviceConnector, TelemetrySink } from './connector.js';
import { ModbusConnector } from './modbus/modbus-connector.js';

export type ConnectorFactory = (device: Device, site: SiteConfig, sink: TelemetrySink, log: Logger) => DeviceConnector;

export const connectorRegistry: Partial<Record<Device['protocol'], ConnectorFactory>> = {
  modbus: (device, site, sink, log) => {
    if (device.protocol !== 'modbus') throw new TypeError(`device ${device.id} is not a Modbus device`);
    return new ModbusConnector(device, site.tags, sink, log);
  },
};

/** One connector per device of the site; devices whose protocol has no connector are reported, not skipped silently. */
export function createConnectors(site: SiteConfig, sink: TelemetrySink, log: Logger): { connectors: DeviceConnector[]; unsupported: Device[] } {
  const connectors: DeviceConnector[] = [];
  const unsupported: Device[] = [];
  for (const device of site.devices) {
    const factory = connectorRegistry[device.protocol];
    if (factory === undefined) unsupported.push(device);
    else connectors.push(factory(device, site, sink, log));
  }
  return { connectors, unsupported };
}
