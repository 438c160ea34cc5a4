// Connectors by protocol: a plain map from a device protocol to the factory that polls devices
// of that protocol.
import type { Device } from '../src/contracts/site.js';
import type { Connector, ConnectorContext, ConnectorFactory } from './connector.js';
import { createModbusConnectors } from './modbus/modbus-connector.js';
import { createOpcuaConnectors } from './opcua/opcua-connector.js';

export const connectorRegistry: Partial<Record<Device['protocol'], ConnectorFactory>> = {
  modbus: createModbusConnectors,
  opcua: createOpcuaConnectors,
};

/** The connectors for every device of the site; devices whose protocol has no connector are returned, not skipped silently. */
export function createConnectors(context: ConnectorContext): { connectors: Connector[]; unsupported: Device[] } {
  const connectors: Connector[] = [];
  const unsupported: Device[] = [];
  const byProtocol = new Map<Device['protocol'], Device[]>();
  for (const device of context.site.devices) byProtocol.set(device.protocol, [...(byProtocol.get(device.protocol) ?? []), device]);
  for (const [protocol, devices] of byProtocol) {
    const factory = connectorRegistry[protocol];
    if (factory === undefined) unsupported.push(...devices);
    else connectors.push(...factory(devices, context));
  }
  return { connectors, unsupported };
}
