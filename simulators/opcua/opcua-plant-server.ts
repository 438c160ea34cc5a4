// A simulated PLC: serves one OPC UA device of the site config from a real node-opcua server,
// with the node ids the config declares and values from the plant. Each `update()` copies the
// plant's readings into the address space (value, status, source time), so subscriptions see
// them; client writes to command tags become plant commands.
//
// The pure part (`planAddressSpace`, `parseNodeId`, `engineeringUnitFor`, `statusFor`) decides
// what the address space holds; `OpcuaPlantServer` only builds it and moves values in and out.
import path from 'node:path';
import {
  DataType,
  DataValue,
  makeEUInformation,
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAServer,
  SecurityPolicy,
  StatusCodes,
  Variant,
  type EUInformation,
  type Namespace,
  type StatusCode,
  type UAObject,
  type UAVariable,
} from 'node-opcua';
import type { OpcuaDevice, Tag, TagKind } from '../../src/contracts/site.js';
import type { PlantReading, PlantValueSource } from '../plant/plant-source.js';

export type { PlantReading, PlantValueSource } from '../plant/plant-source.js';

/** Tags a client may write: they are commands to the plant, not measurements. */
export const writableTagKinds: ReadonlySet<TagKind> = new Set(['pump_status', 'valve_position', 'setpoint']);

export function namespaceUriFor(siteId: string): string {
  return `urn:tirta:sim:${siteId}`;
}

export type OpcuaPlantServerErrorCode = 'foreign_namespace' | 'duplicate_node_id' | 'missing_node_id' | 'bad_node_id' | 'start_failed';

export class OpcuaPlantServerError extends Error {
  constructor(
    readonly code: OpcuaPlantServerErrorCode,
    readonly deviceId: string,
    /** The tag whose configuration is at fault, if one is. */
    readonly tagId: string | undefined,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'OpcuaPlantServerError';
  }
}

// ---------------------------------------------------------------------------------------------
// Pure core: what the address space holds
// ---------------------------------------------------------------------------------------------

export interface ParsedNodeId {
  /** Absent means namespace 0, as OPC UA reads an id without a namespace. */
  namespace: { index: number } | { uri: string };
  identifierType: 'i' | 's' | 'g' | 'b';
  identifier: string;
}

export function parseNodeId(text: string): ParsedNodeId | undefined {
  const match = /^(?:ns=(\d+);|nsu=([^;]+);)?([isgb])=(.+)$/.exec(text);
  if (match === null) return undefined;
  const [, index, uri, identifierType, identifier] = match;
  return {
    namespace: uri !== undefined ? { uri } : { index: Number(index ?? 0) },
    identifierType: identifierType as ParsedNodeId['identifierType'],
    identifier: identifier!,
  };
}

export interface PlannedVariable {
  tag: Tag;
  /** The configured node id rewritten as `ns=1;...`, the form node-opcua creates nodes with. */
  nodeId: string;
  browseName: string;
  displayName: string;
  writable: boolean;
}

export interface PlannedStation {
  name: string;
  folderNodeId: string;
  variables: PlannedVariable[];
}

/**
 * The folders and variables that serve a device's tags: one folder per station, named by the
 * first dotted segment of a string node id (`PumpStation` of `PumpStation.Outlet.Pressure`), or
 * by the device id for other ids. Every node lives in namespace 1, the site's namespace.
 */
export function planAddressSpace(siteId: string, device: Pick<OpcuaDevice, 'id'>, tags: readonly Tag[]): PlannedStation[] {
  const namespaceUri = namespaceUriFor(siteId);
  const stations = new Map<string, PlannedVariable[]>();
  const tagByNodeId = new Map<string, string>();
  for (const tag of tags) {
    if (tag.device !== device.id) continue;
    if (tag.opcua === undefined) {
      throw new OpcuaPlantServerError('missing_node_id', device.id, tag.id, `tag "${tag.id}" of OPC UA device "${device.id}" has no opcua.node_id`);
    }
    const parsed = parseNodeId(tag.opcua.node_id);
    if (parsed === undefined) {
      throw new OpcuaPlantServerError('bad_node_id', device.id, tag.id, `tag "${tag.id}": "${tag.opcua.node_id}" is not an OPC UA node id`);
    }
    const ours = 'uri' in parsed.namespace ? parsed.namespace.uri === namespaceUri : parsed.namespace.index === 1;
    if (!ours) {
      throw new OpcuaPlantServerError(
        'foreign_namespace',
        device.id,
        tag.id,
        `tag "${tag.id}": node id "${tag.opcua.node_id}" must be in the site's namespace (ns=1 or nsu=${namespaceUri})`,
      );
    }
    const nodeId = `ns=1;${parsed.identifierType}=${parsed.identifier}`;
    const earlier = tagByNodeId.get(nodeId);
    if (earlier !== undefined) {
      throw new OpcuaPlantServerError('duplicate_node_id', device.id, tag.id, `tags "${earlier}" and "${tag.id}" share node id ${nodeId}`);
    }
    tagByNodeId.set(nodeId, tag.id);
    const segments = parsed.identifierType === 's' ? parsed.identifier.split('.') : [];
    const station = segments.length > 1 && segments[0] !== '' ? segments[0]! : device.id;
    const variables = stations.get(station) ?? [];
    stations.set(station, variables);
    variables.push({ tag, nodeId, browseName: tag.id, displayName: tag.name ?? tag.id, writable: writableTagKinds.has(tag.kind) });
  }
  return [...stations].map(([name, variables]) => {
    // A tag may itself be named like its station (s=PumpStation beside s=PumpStation.Flow).
    const natural = `ns=1;s=${name}`;
    return { name, folderNodeId: tagByNodeId.has(natural) ? `ns=1;s=${name}#folder` : natural, variables };
  });
}

/** UN/CEFACT common codes (Recommendation 20) of the units water utilities configure. */
const unitCodes: Readonly<Record<string, { commonCode: string; description: string }>> = {
  m: { commonCode: 'MTR', description: 'metre' },
  mm: { commonCode: 'MMT', description: 'millimetre' },
  m3: { commonCode: 'MTQ', description: 'cubic metre' },
  'm3/h': { commonCode: 'MQH', description: 'cubic metre per hour' },
  'm3/s': { commonCode: 'MQS', description: 'cubic metre per second' },
  'l/s': { commonCode: 'G51', description: 'litre per second' },
  'L/s': { commonCode: 'G51', description: 'litre per second' },
  '%': { commonCode: 'P1', description: 'percent' },
  bar: { commonCode: 'BAR', description: 'bar' },
  kPa: { commonCode: 'KPA', description: 'kilopascal' },
  'mg/l': { commonCode: 'M1', description: 'milligram per litre' },
  'mg/L': { commonCode: 'M1', description: 'milligram per litre' },
  degC: { commonCode: 'CEL', description: 'degree Celsius' },
  '°C': { commonCode: 'CEL', description: 'degree Celsius' },
  kW: { commonCode: 'KWT', description: 'kilowatt' },
  kWh: { commonCode: 'KWH', description: 'kilowatt hour' },
  A: { commonCode: 'AMP', description: 'ampere' },
  V: { commonCode: 'VLT', description: 'volt' },
  Hz: { commonCode: 'HTZ', description: 'hertz' },
  rpm: { commonCode: 'RPM', description: 'revolutions per minute' },
  s: { commonCode: 'SEC', description: 'second' },
  h: { commonCode: 'HUR', description: 'hour' },
};

/**
 * The EngineeringUnits of a tag. DisplayName is the unit exactly as configured, so a client
 * reads back the site file's spelling; unitId is the UN/CEFACT code, or -1 where there is none
 * (`bool`, `NTU`).
 */
export function engineeringUnitFor(unit: string): EUInformation {
  const known = unitCodes[unit];
  if (known !== undefined) return makeEUInformation(known.commonCode, unit, known.description);
  const unknown = makeEUInformation('', unit, unit);
  unknown.unitId = -1;
  return unknown;
}

/** Bad readings carry no value: a client must not mistake the last number for a live one. */
export function statusFor(reading: PlantReading): { statusCode: StatusCode; value: number | null } {
  if (reading.quality === 'bad' || reading.value === null || !Number.isFinite(reading.value)) {
    return { statusCode: StatusCodes.BadCommunicationError, value: null };
  }
  return { statusCode: reading.quality === 'uncertain' ? StatusCodes.Uncertain : StatusCodes.Good, value: reading.value };
}

// ---------------------------------------------------------------------------------------------
// Shell: the node-opcua server
// ---------------------------------------------------------------------------------------------

export interface OpcuaPlantServerOptions {
  /** The site's id: the namespace URI is `urn:tirta:sim:<siteId>`. */
  siteId: string;
  device: OpcuaDevice;
  /** Tags of other devices are ignored. */
  tags: readonly Tag[];
  source: PlantValueSource;
  /**
   * Where the server's PKI lives (own certificate and key, trusted and rejected client
   * certificates). Each server uses the subfolder `<siteId>.<deviceId>`, so servers may share it;
   * the certificate is made on first start and reused after.
   */
  pkiFolder: string;
  /** Hostname that endpoint URLs advertise and the server listens on; default the endpoint's. */
  host?: string;
  /** Overrides the endpoint's port; 0 picks a free one. */
  port?: number;
  /** When set, `update()` runs on this interval; otherwise the caller drives it (e.g. on each SimClock tick). */
  updateIntervalMs?: number;
  /** Source time of interval-driven updates; default the wall clock. */
  clock?: () => Date;
  /** Called when the plant refuses a client's write; the client gets BadInternalError either way. */
  onWriteError?: (tagId: string, error: unknown) => void;
}

interface ServedTag {
  tag: Tag;
  variable: UAVariable;
  /** What reads of a writable (bound) variable return; plain variables keep theirs inside node-opcua. */
  current: DataValue;
}

export class OpcuaPlantServer {
  private server: OPCUAServer | undefined;
  /** The server's own PKI and the one for X.509 user tokens; without them node-opcua would use ~/.config. */
  private certificateManagers: OPCUACertificateManager[] = [];
  private readonly served = new Map<string, ServedTag>();
  private readonly stations: PlannedStation[];
  private timer: NodeJS.Timeout | undefined;
  private boundPort = 0;

  constructor(private readonly options: OpcuaPlantServerOptions) {
    this.stations = planAddressSpace(options.siteId, options.device, options.tags);
  }

  get deviceId(): string {
    return this.options.device.id;
  }

  get namespaceUri(): string {
    return namespaceUriFor(this.options.siteId);
  }

  get port(): number {
    return this.boundPort;
  }

  /** Sessions the server holds now (0 when stopped), so tests can catch a client leaking sessions. */
  get sessionCount(): number {
    return this.server?.engine?.currentSessionCount ?? 0;
  }

  /** The endpoint URL clients connect to, with the port actually bound. */
  get endpointUrl(): string {
    const endpoint = new URL(this.options.device.endpoint);
    return `opc.tcp://${this.hostname()}:${this.boundPort}${resourcePathOf(endpoint)}`;
  }

  get pkiRoot(): string {
    return path.join(this.options.pkiFolder, `${this.options.siteId}.${this.options.device.id}`);
  }

  /** The server's own certificate (PEM), made on first start. */
  get certificateFile(): string {
    return path.join(this.pkiRoot, 'own', 'certs', 'certificate.pem');
  }

  async start(): Promise<void> {
    if (this.server !== undefined) throw new Error(`OPC UA server of device "${this.deviceId}" is already started`);
    const endpoint = new URL(this.options.device.endpoint);
    const port = this.options.port ?? (endpoint.port === '' ? 4840 : Number(endpoint.port));
    // Clients of a simulator are test rigs and connectors: trust any client certificate.
    const serverCertificateManager = new OPCUACertificateManager({ rootFolder: this.pkiRoot, automaticallyAcceptUnknownCertificate: true });
    const userCertificateManager = new OPCUACertificateManager({ rootFolder: path.join(this.pkiRoot, 'user'), automaticallyAcceptUnknownCertificate: true });
    this.certificateManagers = [serverCertificateManager, userCertificateManager];
    const server = new OPCUAServer({
      port,
      host: this.hostname(),
      hostname: this.hostname(),
      resourcePath: resourcePathOf(endpoint),
      // Namespace 1 must be the site's namespace (node ids in the config say ns=1), while the
      // application URI names this one PLC; so the server does not register its own.
      skipOwnNamespace: true,
      serverInfo: {
        applicationUri: `${this.namespaceUri}:${this.deviceId}`,
        productUri: 'urn:tirta:simulator',
        applicationName: { text: `Tirta simulated PLC ${this.deviceId}`, locale: 'en' },
      },
      buildInfo: { productName: 'Tirta simulated PLC', manufacturerName: 'Tirta' },
      serverCertificateManager,
      userCertificateManager,
      securityModes: [MessageSecurityMode.None, MessageSecurityMode.SignAndEncrypt],
      securityPolicies: [SecurityPolicy.None, SecurityPolicy.Basic256Sha256],
      allowAnonymous: true,
      disableDiscovery: true,
    });
    this.server = server;
    try {
      await server.initialize();
      this.buildAddressSpace(server);
      this.update();
      await server.start();
    } catch (error) {
      await this.stop();
      const reason = error instanceof Error ? error.message : String(error);
      throw new OpcuaPlantServerError('start_failed', this.deviceId, undefined, `OPC UA server of device "${this.deviceId}" did not start on port ${port}: ${reason}`, { cause: error });
    }
    this.boundPort = server.endpoints[0]?.port ?? port;
    if (this.options.updateIntervalMs !== undefined) {
      const clock = this.options.clock ?? (() => new Date());
      this.timer = setInterval(() => this.update(clock()), this.options.updateIntervalMs);
    }
  }

  /** Copies every tag's plant reading into the address space, stamped with `sourceTime`. */
  update(sourceTime: Date = new Date()): void {
    for (const served of this.served.values()) {
      const { statusCode, value } = statusFor(this.options.source.read(served.tag.id));
      const variant = value === null ? new Variant({ dataType: DataType.Null }) : new Variant({ dataType: DataType.Double, value });
      // Server time is the source time too, as node-opcua's setValueFromSource stamps it: replay stays exact.
      served.current = new DataValue({ value: variant, statusCode, sourceTimestamp: sourceTime, serverTimestamp: sourceTime });
      served.variable.setValueFromSource(variant, statusCode, sourceTime);
    }
  }

  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    const server = this.server;
    const certificateManagers = this.certificateManagers;
    this.server = undefined;
    this.certificateManagers = [];
    this.served.clear();
    if (server === undefined) return;
    // A started server disposes its certificate managers as it shuts down; one that failed to
    // start leaves them (and their folder watchers) to us.
    const started = server.engine?.isStarted() ?? false;
    await server.shutdown(0);
    if (!started) await Promise.all(certificateManagers.map((manager) => manager.dispose()));
  }

  private hostname(): string {
    return this.options.host ?? new URL(this.options.device.endpoint).hostname;
  }

  private buildAddressSpace(server: OPCUAServer): void {
    const addressSpace = server.engine.addressSpace;
    if (addressSpace === null) throw new Error('node-opcua server has no address space after initialize()');
    const namespace = addressSpace.registerNamespace(this.namespaceUri);
    if (namespace.index !== 1) throw new Error(`namespace ${this.namespaceUri} got index ${namespace.index}, expected 1`);
    for (const station of this.stations) {
      const folder = namespace.addFolder(addressSpace.rootFolder.objects, {
        nodeId: station.folderNodeId,
        browseName: station.name,
        displayName: station.name,
      });
      for (const planned of station.variables) {
        const variable = this.addVariable(namespace, folder, planned);
        const served: ServedTag = { tag: planned.tag, variable, current: new DataValue({ statusCode: StatusCodes.BadWaitingForInitialData }) };
        if (planned.writable) this.bindWrites(served);
        this.served.set(planned.tag.id, served);
      }
    }
  }

  private addVariable(namespace: Namespace, folder: UAObject, planned: PlannedVariable): UAVariable {
    const common = {
      organizedBy: folder,
      nodeId: planned.nodeId,
      browseName: planned.browseName,
      displayName: planned.displayName,
      dataType: 'Double',
      accessLevel: planned.writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      userAccessLevel: planned.writable ? 'CurrentRead | CurrentWrite' : 'CurrentRead',
      // Values change only in update(), which notifies subscriptions itself: no sampling needed.
      minimumSamplingInterval: 0,
    } as const;
    const engineeringUnits = engineeringUnitFor(planned.tag.unit);
    const range = planned.tag.range;
    if (range !== undefined) {
      return namespace.addAnalogDataItem({ ...common, engineeringUnitsRange: { low: range.min, high: range.max }, engineeringUnits });
    }
    // AnalogItemType requires an EURange: a tag without one is a plain variable with its unit.
    const variable = namespace.addVariable({ ...common, typeDefinition: 'BaseDataVariableType' });
    namespace.addVariable({
      propertyOf: variable,
      browseName: { name: 'EngineeringUnits', namespaceIndex: 0 },
      typeDefinition: 'PropertyType',
      dataType: 'EUInformation',
      minimumSamplingInterval: 0,
      value: new Variant({ dataType: DataType.ExtensionObject, value: engineeringUnits }),
    });
    return variable;
  }

  /** node-opcua calls a bound setter on each client write; a setter needs a getter beside it. */
  private bindWrites(served: ServedTag): void {
    served.variable.bindVariable({
      timestamped_get: () => served.current,
      timestamped_set: async (dataValue: DataValue): Promise<StatusCode> => {
        const value: unknown = dataValue.value.value;
        if (typeof value !== 'number' || !Number.isFinite(value)) return StatusCodes.BadTypeMismatch;
        try {
          this.options.source.write(served.tag.id, value);
        } catch (error) {
          this.options.onWriteError?.(served.tag.id, error);
          return StatusCodes.BadInternalError;
        }
        // Reads show the command until the next update() shows what the plant made of it.
        served.current = dataValue;
        return StatusCodes.Good;
      },
    });
  }
}

/** Starts a server for one device; the caller owns it and must `stop()` it. */
export async function startOpcuaPlantServer(options: OpcuaPlantServerOptions): Promise<OpcuaPlantServer> {
  const server = new OpcuaPlantServer(options);
  await server.start();
  return server;
}

function resourcePathOf(endpoint: URL): string {
  return endpoint.pathname === '/' ? '' : endpoint.pathname;
}
