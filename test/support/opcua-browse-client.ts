// A separate-process OPC UA client for the simulator's integration test: it sees the server only
// through the wire, as a connector would. It prints one JSON object per line on stdout, each
// with an `event` field, so the test can react (call `update()` once `subscribed` arrives):
//
//   node --import tsx test/support/opcua-browse-client.ts <endpointUrl>
//     [--pki <folder>]               the client's certificate and trust lists (default: under the OS temp dir)
//     [--security SignAndEncrypt]    Basic256Sha256 with that certificate (default None)
//     [--watch <nodeId>]             subscribe; report the first value that differs from the initial one
//     [--write <nodeId>=<number>]    write a Double after browsing (and watching); may repeat
//     [--timeout-ms <ms>]            for the whole run (default 15000)
//
// Events: `browsed` (namespaces and every station folder under Objects with its variables),
// `subscribed`, `changed`, `written`, `error`; the process exits 0 after the last step, 1 on error.
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  AttributeIds,
  BrowseDirection,
  DataType,
  MessageSecurityMode,
  NodeClass,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  TimestampsToReturn,
  type ClientSession,
  type DataValue,
  type ReferenceDescription,
} from 'node-opcua';

export interface BrowsedVariable {
  nodeId: string;
  browseName: string;
  displayName: string;
  value: number | null;
  statusCode: string;
  sourceTimestamp: string | null;
  writable: boolean;
  engineeringUnits: { unitId: number; displayName: string; description: string } | null;
  euRange: { low: number; high: number } | null;
  typeDefinition: string;
}

export interface BrowsedStation {
  browseName: string;
  nodeId: string;
  variables: BrowsedVariable[];
}

export type ClientEvent =
  | { event: 'browsed'; namespaceArray: string[]; securityMode: string; stations: BrowsedStation[] }
  | { event: 'subscribed'; nodeId: string; value: number | null; statusCode: string }
  | { event: 'changed'; nodeId: string; value: number | null; statusCode: string; sourceTimestamp: string | null }
  | { event: 'written'; nodeId: string; value: number; statusCode: string }
  | { event: 'error'; message: string };

const OBJECTS_FOLDER = 'ns=0;i=85';
const NAMESPACE_ARRAY = 'ns=0;i=2255';
const CURRENT_WRITE = 0x02;

function emit(event: ClientEvent): void {
  process.stdout.write(`${JSON.stringify(event)}\n`);
}

function numberOrNull(dataValue: DataValue): number | null {
  const value: unknown = dataValue.value.value;
  return typeof value === 'number' ? value : null;
}

async function children(session: ClientSession, nodeId: string, referenceTypeId: string): Promise<ReferenceDescription[]> {
  const result = await session.browse({
    nodeId,
    referenceTypeId,
    browseDirection: BrowseDirection.Forward,
    includeSubtypes: true,
    resultMask: 0x3f,
  });
  return result.references ?? [];
}

async function property(session: ClientSession, variableNodeId: string, name: string): Promise<unknown> {
  const properties = await children(session, variableNodeId, 'HasProperty');
  const found = properties.find((reference) => reference.browseName.name === name);
  if (found === undefined) return null;
  const dataValue = await session.read({ nodeId: found.nodeId, attributeId: AttributeIds.Value });
  return dataValue.value.value as unknown;
}

async function browseVariable(session: ClientSession, reference: ReferenceDescription): Promise<BrowsedVariable> {
  const nodeId = reference.nodeId.toString();
  const [value, displayName, accessLevel] = await session.read([
    { nodeId, attributeId: AttributeIds.Value },
    { nodeId, attributeId: AttributeIds.DisplayName },
    { nodeId, attributeId: AttributeIds.AccessLevel },
  ]);
  const units = (await property(session, nodeId, 'EngineeringUnits')) as {
    unitId: number;
    displayName: { text: string | null };
    description: { text: string | null };
  } | null;
  const range = (await property(session, nodeId, 'EURange')) as { low: number; high: number } | null;
  return {
    nodeId,
    browseName: reference.browseName.name ?? '',
    displayName: (displayName!.value.value as { text: string | null }).text ?? '',
    value: numberOrNull(value!),
    statusCode: value!.statusCode.name,
    sourceTimestamp: value!.sourceTimestamp?.toISOString() ?? null,
    writable: ((accessLevel!.value.value as number) & CURRENT_WRITE) !== 0,
    engineeringUnits: units === null ? null : { unitId: units.unitId, displayName: units.displayName.text ?? '', description: units.description.text ?? '' },
    euRange: range === null ? null : { low: range.low, high: range.high },
    typeDefinition: reference.typeDefinition.toString(),
  };
}

async function browseStations(session: ClientSession): Promise<BrowsedStation[]> {
  const folders = (await children(session, OBJECTS_FOLDER, 'Organizes')).filter(
    (reference) => reference.nodeClass === NodeClass.Object && reference.nodeId.namespace !== 0,
  );
  const stations: BrowsedStation[] = [];
  for (const folder of folders) {
    const variables = (await children(session, folder.nodeId.toString(), 'HierarchicalReferences')).filter(
      (reference) => reference.nodeClass === NodeClass.Variable,
    );
    stations.push({
      browseName: folder.browseName.name ?? '',
      nodeId: folder.nodeId.toString(),
      variables: await Promise.all(variables.map((variable) => browseVariable(session, variable))),
    });
  }
  return stations;
}

/** Resolves with the first notification whose value differs from the initial one. */
async function watchForChange(session: ClientSession, nodeId: string): Promise<void> {
  const subscription = await session.createSubscription2({
    requestedPublishingInterval: 50,
    requestedLifetimeCount: 1000,
    requestedMaxKeepAliveCount: 20,
    maxNotificationsPerPublish: 100,
    publishingEnabled: true,
    priority: 1,
  });
  const item = await subscription.monitor(
    { nodeId, attributeId: AttributeIds.Value },
    { samplingInterval: 0, discardOldest: true, queueSize: 10 },
    TimestampsToReturn.Both,
  );
  await new Promise<void>((resolve) => {
    let initial: DataValue | undefined;
    item.on('changed', (dataValue: DataValue) => {
      if (initial === undefined) {
        initial = dataValue;
        emit({ event: 'subscribed', nodeId, value: numberOrNull(dataValue), statusCode: dataValue.statusCode.name });
        return;
      }
      if (numberOrNull(dataValue) === numberOrNull(initial) && dataValue.statusCode.value === initial.statusCode.value) return;
      emit({
        event: 'changed',
        nodeId,
        value: numberOrNull(dataValue),
        statusCode: dataValue.statusCode.name,
        sourceTimestamp: dataValue.sourceTimestamp?.toISOString() ?? null,
      });
      resolve();
    });
  });
  await subscription.terminate();
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      security: { type: 'string', default: 'None' },
      pki: { type: 'string' },
      watch: { type: 'string' },
      write: { type: 'string', multiple: true },
      'timeout-ms': { type: 'string', default: '15000' },
    },
  });
  const endpointUrl = positionals[0];
  if (endpointUrl === undefined) throw new Error('usage: opcua-browse-client.ts <endpointUrl> [--pki DIR] [--security SignAndEncrypt] [--watch NODEID] [--write NODEID=NUMBER]...');
  const secure = values.security === 'SignAndEncrypt';
  const deadline = setTimeout(() => {
    emit({ event: 'error', message: `timed out after ${values['timeout-ms']} ms` });
    process.exit(1);
  }, Number(values['timeout-ms']));

  const client = OPCUAClient.create({
    applicationName: 'TirtaTestClient',
    applicationUri: 'urn:tirta:test:opcua-browse-client',
    endpointMustExist: false,
    securityMode: secure ? MessageSecurityMode.SignAndEncrypt : MessageSecurityMode.None,
    securityPolicy: secure ? SecurityPolicy.Basic256Sha256 : SecurityPolicy.None,
    // One attempt: a test wants the failure, not a retry loop.
    connectionStrategy: { maxRetry: 0, initialDelay: 100, maxDelay: 200 },
    // node-opcua makes a client certificate even for security None; keep it out of ~/.config.
    clientCertificateManager: new OPCUACertificateManager({
      rootFolder: values.pki ?? path.join(os.tmpdir(), 'tirta-opcua-browse-client-pki'),
      automaticallyAcceptUnknownCertificate: true,
    }),
  });
  await client.connect(endpointUrl);
  try {
    const session = await client.createSession();
    try {
      const namespaces = await session.read({ nodeId: NAMESPACE_ARRAY, attributeId: AttributeIds.Value });
      emit({
        event: 'browsed',
        namespaceArray: namespaces.value.value as string[],
        securityMode: MessageSecurityMode[client.securityMode] ?? String(client.securityMode),
        stations: await browseStations(session),
      });
      if (values.watch !== undefined) await watchForChange(session, values.watch);
      for (const write of values.write ?? []) {
        const separator = write.lastIndexOf('=');
        const nodeId = write.slice(0, separator);
        const value = Number(write.slice(separator + 1));
        const statusCode = await session.write({ nodeId, attributeId: AttributeIds.Value, value: { value: { dataType: DataType.Double, value } } });
        emit({ event: 'written', nodeId, value, statusCode: statusCode.name });
      }
    } finally {
      await session.close();
    }
  } finally {
    await client.disconnect();
    clearTimeout(deadline);
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    emit({ event: 'error', message: error instanceof Error ? error.message : String(error) });
    process.exit(1);
  },
);
