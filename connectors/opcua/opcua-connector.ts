// Reads one OPC UA server (one device of the site config) and hands its values to the sink.
// Subscription mode: the server samples each tag at its sampling interval, applies the tag's
// deadband itself and publishes changes; each publish becomes one reading. Polling mode: each
// poll group is read on its interval, in Read calls cut to the server's MaxNodesPerRead.
//
// The connection belongs to the SessionOwner (session-owner.ts); on every new session this
// connector resolves node ids (namespace URIs may move to another index after a server restart)
// and builds its subscription again. While there is no session, every tag is reported bad with
// a null value: subscription tags once when the link drops, poll groups on each interval.
import path from 'node:path';
import {
  AttributeIds,
  ClientMonitoredItemGroup,
  DataChangeFilter,
  DataChangeTrigger,
  DataType,
  DeadbandType,
  StatusCodes,
  TimestampsToReturn,
  VariableIds,
  type ClientSession,
  type ClientSubscription,
  type DataValue,
  type StatusCode,
} from 'node-opcua';
import type { Device, OpcuaAddress, OpcuaDevice, Tag } from '../../src/contracts/site.js';
import type { Sample } from '../../src/contracts/telemetry.js';
import { ConfigError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { CommandError, type Connector, type ConnectorContext, type ConnectorFactory } from '../connector.js';
import { resolveNodeId } from './node-ids.js';
import { DEFAULT_MAX_NODES_PER_READ, deadbandOf, effectiveLimit, planMonitoredItems, planReads, type DeadbandRequest, type MonitoredItemBatch, type PlannedTag } from './request-plan.js';
import { clientCertificateFile, SessionOwner } from './session-owner.js';
import { badSamples, sampleFrom, statusCodes } from './status.js';

/** A subscription's keep-alive comes about this often when nothing changes; the owner's keep-alive read watches idle links too. */
const SUBSCRIPTION_KEEP_ALIVE_MS = 5000;

/** Status codes with which a server refuses a monitored item's deadband (percent without EURange, deadband on a non-number). */
const REFUSED_FILTER: ReadonlySet<number> = new Set([
  StatusCodes.BadMonitoredItemFilterUnsupported.value,
  StatusCodes.BadFilterNotAllowed.value,
  StatusCodes.BadDeadbandFilterInvalid.value,
  StatusCodes.BadMonitoredItemFilterInvalid.value,
]);

/** Write results that mean "this node takes no writes (from us)", as opposed to a failed device. */
const NOT_WRITABLE: ReadonlySet<number> = new Set([StatusCodes.BadNotWritable.value, StatusCodes.BadUserAccessDenied.value, StatusCodes.BadWriteNotSupported.value]);

/** A device the connector cannot use as configured: a configuration error (exit code 2). */
export class OpcuaConnectorError extends ConfigError {
  constructor(
    readonly reason: 'missing_password',
    readonly device: string,
    /** The failing field of the device's config. */
    readonly field: string,
    message: string,
  ) {
    super('environment', [{ path: field, message }]);
  }
}

type OpcuaTag = Tag & { opcua: OpcuaAddress };

interface PollGroupState {
  id: string;
  intervalMs: number;
  tags: OpcuaTag[];
  timer?: NodeJS.Timeout;
  running?: Promise<void>;
}

/** What one session knows; replaced as a whole when the session is. */
interface LiveSession {
  session: ClientSession;
  /** Tag id to node id, for the tags whose node id this server resolves. */
  nodeIds: Map<string, string>;
  maxNodesPerRead: number;
  subscription?: ClientSubscription;
}

export interface OpcuaConnectorOptions {
  /** Where `user.password_env` is looked up; default the process environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Jitter source of the reconnect backoff. */
  random?: () => number;
}

export class OpcuaConnector implements Connector {
  readonly name: string;
  readonly devices: readonly string[];
  /** The application instance's PKI, shared by every OPC UA connector of this data directory. */
  readonly pkiFolder: string;
  private readonly owner: SessionOwner;
  private readonly log: Logger;
  private readonly tagsById: Map<string, OpcuaTag>;
  private readonly pollGroups: PollGroupState[];
  /** The session values are read through and written to, once it is fully built. */
  private live: LiveSession | undefined;
  /** The newest session, from the moment it is being built: its first values come before it is live. */
  private newest: LiveSession | undefined;
  private online: boolean | undefined;
  private stopped = false;
  /** Samples of the notification being dispatched, delivered together as one reading. */
  private notified: Sample[] = [];

  constructor(
    private readonly device: OpcuaDevice,
    private readonly context: ConnectorContext,
    options: OpcuaConnectorOptions = {},
  ) {
    this.name = device.endpoint;
    this.devices = [device.id];
    this.log = context.log.child({ device: device.id, endpoint: device.endpoint });
    this.pkiFolder = path.join(context.dataDir, 'pki', 'connector');
    const tags = context.site.tags.filter((tag): tag is OpcuaTag => tag.device === device.id && tag.opcua !== undefined);
    this.tagsById = new Map(tags.map((tag) => [tag.id, tag]));
    this.pollGroups = device.poll_groups.map((group) => ({ id: group.id, intervalMs: group.interval_ms, tags: tags.filter((tag) => tag.poll_group === group.id) }));
    let user: { username: string; password: string } | undefined;
    if (device.user !== undefined) {
      const password = (options.env ?? process.env)[device.user.password_env];
      if (password === undefined) {
        throw new OpcuaConnectorError('missing_password', device.id, 'user.password_env', `device "${device.id}": environment variable ${device.user.password_env} (user.password_env) is not set`);
      }
      user = { username: device.user.username, password };
    }
    this.owner = new SessionOwner(
      {
        endpointUrl: device.endpoint,
        securityMode: device.security_mode,
        securityPolicy: device.security_policy,
        user,
        pkiFolder: this.pkiFolder,
        timeoutMs: device.timeout_ms,
        reconnect: { initialMs: device.reconnect.initial_ms, maxMs: device.reconnect.max_ms },
        log: this.log,
        ...(options.random !== undefined ? { random: options.random } : {}),
      },
      { established: (session) => this.established(session), down: (reason) => this.down(reason) },
    );
  }

  /** The connector's own certificate (PEM), made on first start and kept after. */
  get certificateFile(): string {
    return clientCertificateFile(this.pkiFolder);
  }

  start(): void {
    this.owner.start();
    if (this.device.mode !== 'polling') return;
    for (const group of this.pollGroups) {
      if (group.tags.length === 0) continue;
      group.timer = setInterval(() => {
        // A cycle still running when the next is due is skipped rather than queued behind it.
        if (this.stopped || group.running) return;
        group.running = this.pollCycle(group).finally(() => {
          group.running = undefined;
        });
      }, group.intervalMs);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const group of this.pollGroups) clearInterval(group.timer);
    await Promise.allSettled(this.pollGroups.map((group) => group.running));
    this.live = undefined;
    this.newest = undefined;
    await this.owner.stop();
  }

  async write(tagId: string, value: number): Promise<void> {
    if (!this.tagsById.has(tagId)) throw new CommandError('unknown_tag', `tag "${tagId}" is not on OPC UA device ${this.device.id}`);
    const live = this.live;
    if (live === undefined) throw new CommandError('not_connected', `OPC UA device ${this.device.id} has no session; ${tagId} was not written`);
    const nodeId = live.nodeIds.get(tagId);
    if (nodeId === undefined) throw new CommandError('device_failed', `the node id of ${tagId} does not resolve on ${this.device.id}`);
    const startedMs = this.context.clock();
    let statusCode: StatusCode;
    try {
      statusCode = await live.session.write({ nodeId, attributeId: AttributeIds.Value, value: { value: { dataType: DataType.Double, value } } });
      this.context.metrics.requestSucceeded(this.device.id, this.name, this.context.clock() - startedMs, this.context.clock());
    } catch (error) {
      this.context.metrics.requestFailed(this.device.id, this.name, failureKind(error));
      throw new CommandError('device_failed', `writing ${tagId} on ${this.device.id} failed: ${(error as Error).message}`, { cause: error });
    }
    if (statusCode.isGood()) return;
    const code = NOT_WRITABLE.has(statusCode.value) ? 'not_writable' : 'device_failed';
    throw new CommandError(code, `${this.device.id} refused the write of ${tagId}: ${statusCode.name}`);
  }

  // -------------------------------------------------------------------------------------------
  // Session lifecycle (called by the SessionOwner)
  // -------------------------------------------------------------------------------------------

  private async established(session: ClientSession): Promise<void> {
    const startedMs = this.context.clock();
    const [namespaceArray, maxNodesPerRead, maxMonitoredItemsPerCall] = await this.request(() =>
      session.read([
        { nodeId: `i=${VariableIds.Server_NamespaceArray}`, attributeId: AttributeIds.Value },
        { nodeId: `i=${VariableIds.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead}`, attributeId: AttributeIds.Value },
        { nodeId: `i=${VariableIds.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall}`, attributeId: AttributeIds.Value },
      ]),
    );
    this.context.metrics.requestSucceeded(this.device.id, this.name, this.context.clock() - startedMs, this.context.clock());
    const namespaces = Array.isArray(namespaceArray?.value.value) ? (namespaceArray.value.value as string[]) : [];
    const live: LiveSession = { session, nodeIds: new Map(), maxNodesPerRead: effectiveLimit(undefined, limitOf(maxNodesPerRead), DEFAULT_MAX_NODES_PER_READ) };
    this.newest = live;
    const unresolved: string[] = [];
    for (const tag of this.tagsById.values()) {
      const resolved = resolveNodeId(tag.opcua.node_id, namespaces);
      if (resolved.ok) live.nodeIds.set(tag.id, resolved.nodeId);
      else {
        unresolved.push(tag.id);
        this.log.warn({ tag: tag.id, nodeId: tag.opcua.node_id, reason: resolved.reason }, 'node id does not resolve on this server; tag reported bad');
      }
    }
    if (this.device.mode === 'subscription') {
      await this.subscribe(live, effectiveLimit(this.device.monitored_items_per_call, limitOf(maxMonitoredItemsPerCall), this.device.monitored_items_per_call));
    } else {
      for (const group of this.pollGroups) {
        const resolved = group.tags.filter((tag) => live.nodeIds.has(tag.id));
        this.context.metrics.requestsPerCycle(this.device.id, group.id, planReads(resolved, live.maxNodesPerRead).length);
      }
    }
    if (this.stopped) return;
    this.live = live;
    this.setOnline(true);
    if (unresolved.length > 0) this.deliver(badSamples(unresolved, statusCodes.badNodeIdUnknown, this.context.clock()));
  }

  private down(reason: string): void {
    this.live = undefined;
    this.newest = undefined;
    this.notified = [];
    this.setOnline(false, reason);
  }

  private setOnline(online: boolean, reason?: string): void {
    if (this.online === online) return;
    this.online = online;
    this.context.metrics.deviceOnline(this.device.id, online);
    if (online) this.log.info('device online');
    else this.log.warn({ reason }, 'device offline');
    this.context.sink.deviceState(this.device.id, online ? 'online' : 'offline', reason);
    // Poll groups report bad on their own intervals; subscribed tags would otherwise keep their last value.
    if (!online && this.device.mode === 'subscription' && this.tagsById.size > 0) {
      this.deliver(badSamples([...this.tagsById.keys()], statusCodes.badNotConnected, this.context.clock()));
    }
  }

  // -------------------------------------------------------------------------------------------
  // Subscription mode
  // -------------------------------------------------------------------------------------------

  private async subscribe(live: LiveSession, itemsPerCall: number): Promise<void> {
    const publishingIntervalMs = this.device.publishing_interval_ms;
    const maxKeepAliveCount = Math.max(3, Math.ceil(SUBSCRIPTION_KEEP_ALIVE_MS / publishingIntervalMs));
    const startedMs = this.context.clock();
    const subscription = await this.request(() =>
      live.session.createSubscription2({
        requestedPublishingInterval: publishingIntervalMs,
        requestedMaxKeepAliveCount: maxKeepAliveCount,
        // The minimum the spec allows: a subscription orphaned by a dead link goes soon; a new session builds its own.
        requestedLifetimeCount: maxKeepAliveCount * 3,
        maxNotificationsPerPublish: 0,
        publishingEnabled: true,
        priority: 10,
      }),
    );
    this.context.metrics.requestSucceeded(this.device.id, this.name, this.context.clock() - startedMs, this.context.clock());
    live.subscription = subscription;
    subscription.on('status_changed', (status) => {
      if (status.isNotGood()) this.owner.reportBroken(live.session, `subscription ended by the server: ${status.name}`);
    });
    subscription.on('internal_error', (error) => this.owner.reportBroken(live.session, `subscription failed: ${error.message}`));

    const planned: PlannedTag[] = [];
    for (const group of this.pollGroups) {
      for (const tag of group.tags) {
        const nodeId = live.nodeIds.get(tag.id);
        if (nodeId === undefined) continue;
        planned.push({ tagId: tag.id, nodeId, samplingIntervalMs: this.device.sampling_interval_ms ?? group.intervalMs, deadband: deadbandOf(tag) });
      }
    }
    const settings = { itemsPerCall, publishingIntervalMs };
    const refusedFilter: PlannedTag[] = [];
    for (const batch of planMonitoredItems(planned, settings)) {
      const results = await this.monitor(live, subscription, batch);
      batch.tags.forEach((tag, index) => {
        const status = results[index]!;
        if (status.isGood()) return;
        if (batch.deadband.type !== 'none' && REFUSED_FILTER.has(status.value)) {
          this.log.warn({ tag: tag.tagId, deadband: batch.deadband, status: status.name }, 'server refused the deadband (percent needs an EURange); monitoring without it');
          refusedFilter.push({ ...tag, deadband: { type: 'none' } });
        } else {
          this.log.warn({ tag: tag.tagId, nodeId: tag.nodeId, status: status.name }, 'server refused the monitored item; tag reported bad');
          this.deliver(badSamples([tag.tagId], status.value, this.context.clock()));
        }
      });
    }
    for (const batch of planMonitoredItems(refusedFilter, settings)) {
      const results = await this.monitor(live, subscription, batch);
      batch.tags.forEach((tag, index) => {
        const status = results[index]!;
        if (status.isGood()) return;
        this.log.warn({ tag: tag.tagId, nodeId: tag.nodeId, status: status.name }, 'server refused the monitored item; tag reported bad');
        this.deliver(badSamples([tag.tagId], status.value, this.context.clock()));
      });
    }
  }

  /** One CreateMonitoredItems call; resolves to each item's status, in the batch's order. */
  private async monitor(live: LiveSession, subscription: ClientSubscription, batch: MonitoredItemBatch): Promise<StatusCode[]> {
    const startedMs = this.context.clock();
    const group = ClientMonitoredItemGroup.create(
      subscription,
      batch.tags.map((tag) => ({ nodeId: tag.nodeId, attributeId: AttributeIds.Value })),
      { samplingInterval: batch.samplingIntervalMs, queueSize: batch.queueSize, discardOldest: true, filter: filterFor(batch.deadband) },
      TimestampsToReturn.Both,
    );
    // Listening before the call is sent: the first values may come in the very next publish.
    group.on('changed', (_item, dataValue, index) => this.notify(live, batch.tags[index]!.tagId, dataValue));
    await this.request(
      () =>
        new Promise<void>((resolve, reject) => {
          group.once('initialized', () => resolve());
          group.once('err', (message) => reject(new Error(`CreateMonitoredItems failed: ${message}`)));
        }),
    );
    this.context.metrics.requestSucceeded(this.device.id, this.name, this.context.clock() - startedMs, this.context.clock());
    return group.monitoredItems.map((item) => item.statusCode);
  }

  /** node-opcua hands a publish's values over one by one, synchronously: gather them into one reading. */
  private notify(live: LiveSession, tagId: string, dataValue: DataValue): void {
    if (this.newest !== live) return;
    const first = this.notified.length === 0;
    this.notified.push(sampleFrom(tagId, received(dataValue), this.context.clock()));
    if (!first) return;
    queueMicrotask(() => {
      const samples = this.notified;
      this.notified = [];
      if (samples.length === 0 || this.stopped) return;
      // A notification has no round trip of its own: it counts as an answer, not as a timing.
      this.context.metrics.notificationReceived(this.device.id, this.name, this.context.clock());
      this.deliver(samples);
    });
  }

  // -------------------------------------------------------------------------------------------
  // Polling mode
  // -------------------------------------------------------------------------------------------

  private async pollCycle(group: PollGroupState): Promise<void> {
    const pollTsMs = this.context.clock();
    const live = this.live;
    if (live === undefined) {
      // Before the first attempt has ended there is nothing to report yet; after a failure, every cycle is bad.
      if (this.online === false) this.deliver(badSamples(group.tags.map((tag) => tag.id), statusCodes.badNotConnected, pollTsMs), pollTsMs);
      return;
    }
    const unresolved = group.tags.filter((tag) => !live.nodeIds.has(tag.id)).map((tag) => tag.id);
    const samples: Sample[] = badSamples(unresolved, statusCodes.badNodeIdUnknown, pollTsMs);
    const resolved = group.tags.filter((tag) => live.nodeIds.has(tag.id));
    for (const chunk of planReads(resolved, live.maxNodesPerRead)) {
      if (this.live !== live || this.stopped) {
        samples.push(...badSamples(chunk.map((tag) => tag.id), statusCodes.badNotConnected, pollTsMs));
        continue;
      }
      const startedMs = this.context.clock();
      try {
        const dataValues = await live.session.read(chunk.map((tag) => ({ nodeId: live.nodeIds.get(tag.id)!, attributeId: AttributeIds.Value })), 0);
        const answeredMs = this.context.clock();
        this.context.metrics.requestSucceeded(this.device.id, this.name, answeredMs - startedMs, answeredMs);
        chunk.forEach((tag, index) => samples.push(sampleFrom(tag.id, received(dataValues[index]), pollTsMs)));
      } catch (error) {
        this.context.metrics.requestFailed(this.device.id, this.name, failureKind(error));
        samples.push(...badSamples(chunk.map((tag) => tag.id), statusOfFailure(error), pollTsMs));
        // A Read the server does not answer means the link or session is gone: let the owner rebuild it.
        this.owner.reportBroken(live.session, `read failed: ${(error as Error).message}`);
      }
    }
    this.deliver(samples, pollTsMs);
  }

  // -------------------------------------------------------------------------------------------

  private deliver(samples: Sample[], pollTsMs: number = this.context.clock()): void {
    if (samples.length === 0 || this.stopped) return;
    this.context.sink.deliver({ device: this.device.id, pollTsMs, samples });
  }

  /** Runs one service call within the device's timeout, which node-opcua does not apply to everything (monitored item groups). */
  private request<T>(call: () => Promise<T>): Promise<T> {
    const timeoutMs = this.device.timeout_ms;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([call(), timeout]).finally(() => clearTimeout(timer));
  }
}

function filterFor(deadband: DeadbandRequest): DataChangeFilter | null {
  if (deadband.type === 'none') return null;
  // StatusValue: a status change is reported even when the value stays inside the deadband.
  return new DataChangeFilter({
    trigger: DataChangeTrigger.StatusValue,
    deadbandType: deadband.type === 'absolute' ? DeadbandType.Absolute : DeadbandType.Percent,
    deadbandValue: deadband.value,
  });
}

function received(dataValue: DataValue | undefined): Parameters<typeof sampleFrom>[1] {
  if (dataValue === undefined) return { value: null, statusCode: statusCodes.badCommunicationError, sourceTimestampMs: undefined };
  return { value: dataValue.value?.value, statusCode: dataValue.statusCode.value, sourceTimestampMs: dataValue.sourceTimestamp?.getTime() };
}

/** An operation limit read from the server, when it answered with one. */
function limitOf(dataValue: DataValue | undefined): number | undefined {
  if (dataValue === undefined || !dataValue.statusCode.isGood()) return undefined;
  const value: unknown = dataValue.value.value;
  return typeof value === 'number' ? value : undefined;
}

function failureKind(error: unknown): 'timeout' | 'exception' | 'connection' | 'other' {
  const message = error instanceof Error ? error.message : String(error);
  if (/timeout|timed out|no answer within/i.test(message)) return 'timeout';
  if (/Bad[A-Z]/.test(message)) return 'exception';
  if (/closed|disconnect|socket|secure ?channel|ECONN|EPIPE/i.test(message)) return 'connection';
  return 'other';
}

function statusOfFailure(error: unknown): number {
  return failureKind(error) === 'timeout' ? statusCodes.badTimeout : statusCodes.badCommunicationError;
}

/** One connector per OPC UA server: each device of the site config is one server. */
export const createOpcuaConnectors: ConnectorFactory = (devices: readonly Device[], context: ConnectorContext) =>
  devices.map((device) => {
    if (device.protocol !== 'opcua') throw new TypeError(`device ${device.id} is not an OPC UA device`);
    return new OpcuaConnector(device, context);
  });
