// The one owner of an OPC UA server connection's lifecycle: connect, open the session, hand it
// to the connector, notice when it dies, close what is left, wait (exponential backoff with
// jitter) and start over with a fresh client. node-opcua's own reconnection is switched off
// (connectionStrategy.maxRetry = 0): two owners would race to rebuild the same session.
//
// Every attempt uses a new OPCUAClient and a new certificate manager on the same PKI folder:
// node-opcua refuses to reconnect a client whose channel broke, and `disconnect()` disposes the
// certificate manager it was given. The certificate and key on disk persist across attempts and
// restarts: the application instance keeps one identity that server administrators trust once.
import {
  MessageSecurityMode,
  OPCUACertificateManager,
  OPCUAClient,
  SecurityPolicy,
  UserTokenType,
  type ClientSession,
  type UserIdentityInfo,
} from 'node-opcua';
import path from 'node:path';
import type { Logger } from '../../src/log.js';
import { reconnectDelayMs, type ReconnectSettings } from './reconnect-backoff.js';

export interface SessionOwnerOptions {
  endpointUrl: string;
  securityMode: 'None' | 'SignAndEncrypt';
  securityPolicy: 'None' | 'Basic256Sha256';
  /** Username login; anonymous when absent. */
  user: { username: string; password: string } | undefined;
  /** The application's PKI: own certificate and key, trusted and rejected server certificates. */
  pkiFolder: string;
  /** Per request, and for opening the connection. */
  timeoutMs: number;
  reconnect: ReconnectSettings;
  /** Carries the device and endpoint already. */
  log: Logger;
  random?: () => number;
}

export interface SessionHandlers {
  /**
   * A new session is open: build on it (namespace lookup, subscriptions). The connection counts
   * as established once this resolves; a throw fails the attempt like a refused connection.
   */
  established(session: ClientSession): Promise<void>;
  /** The session is gone, or the attempt failed: nothing of the old session may be used any more. */
  down(reason: string): void;
}

/** Connecting takes a few round trips (HEL/ACK, GetEndpoints, OpenSecureChannel twice): allow as many timeouts. */
const CONNECT_TIMEOUTS = 3;

interface Attempt {
  client: OPCUAClient;
  session: ClientSession | undefined;
  /** The channel broke: the session cannot be closed through it (the server drops it after its timeout). */
  channelBroken: boolean;
  /** Set once, by whoever ends the attempt first (failure or stop); later events are ignored. */
  over: boolean;
}

/** Client certificate of the application instance, created on first start and reused after. */
export function clientCertificateFile(pkiFolder: string): string {
  return path.join(pkiFolder, 'own', 'certs', 'client_certificate.pem');
}

export class SessionOwner {
  private attempt: Attempt | undefined;
  private liveSession: ClientSession | undefined;
  private running = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  /** The teardown in progress, so stop() can wait for it. */
  private closing: Promise<void> = Promise.resolve();

  constructor(
    private readonly options: SessionOwnerOptions,
    private readonly handlers: SessionHandlers,
  ) {}

  /** The established session, or undefined while there is none. */
  get session(): ClientSession | undefined {
    return this.liveSession;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    void this.connect();
  }

  /** For the connector: a request failed in a way that means the connection is dead. */
  reportBroken(session: ClientSession, reason: string): void {
    const attempt = this.attempt;
    if (attempt !== undefined && attempt.session === session) this.fail(attempt, reason);
  }

  /** Closes the session (deleting its subscriptions on the server) and the connection; no retry follows. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const attempt = this.attempt;
    this.attempt = undefined;
    this.liveSession = undefined;
    if (attempt !== undefined && !attempt.over) {
      attempt.over = true;
      this.closing = this.close(attempt);
    }
    await this.closing;
  }

  private async connect(): Promise<void> {
    if (!this.running) return;
    const attempt: Attempt = { client: this.createClient(), session: undefined, channelBroken: false, over: false };
    this.attempt = attempt;
    const { client } = attempt;
    const broken = (reason: string) => {
      attempt.channelBroken = true;
      this.fail(attempt, reason);
    };
    client.on('connection_lost', () => broken('connection lost'));
    client.on('close', (error?: Error | null) => broken(error ? `connection closed: ${error.message}` : 'connection closed'));
    try {
      await this.withinTimeout(client.connect(this.options.endpointUrl), CONNECT_TIMEOUTS * this.options.timeoutMs, 'connect');
      if (attempt.over) return;
      const session = await client.createSession(this.identity());
      attempt.session = session;
      if (attempt.over) return;
      // node-opcua breaks the channel itself after a failed keep-alive read.
      session.on('keepalive_failure', () => broken('keep-alive read failed'));
      session.on('session_closed', (statusCode) => this.fail(attempt, `session closed: ${String(statusCode)}`));
      await this.handlers.established(session);
      if (attempt.over) return;
      this.failures = 0;
      this.liveSession = session;
      this.options.log.info({ securityMode: this.options.securityMode }, 'OPC UA session established');
    } catch (error) {
      this.fail(attempt, error instanceof Error ? error.message : String(error));
    }
  }

  /** The one place a connection ends unasked: tear it down, tell the connector, schedule the next attempt. */
  private fail(attempt: Attempt, reason: string): void {
    if (attempt.over) return;
    attempt.over = true;
    if (this.attempt === attempt) this.liveSession = undefined;
    this.failures += 1;
    const delayMs = reconnectDelayMs(this.failures, this.options.reconnect, this.options.random);
    this.options.log.warn({ reason, failures: this.failures, retryInMs: delayMs }, 'OPC UA connection down');
    this.handlers.down(reason);
    this.closing = this.close(attempt).then(() => {
      if (!this.running || this.attempt !== attempt) return;
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        void this.connect();
      }, delayMs);
    });
  }

  /**
   * Closes the session while the channel still works (a failed subscription must not leave its
   * session behind for every retry), then the client, which also disposes the attempt's
   * certificate manager. Never throws: on a dying link these calls fail, and that is fine.
   */
  private async close(attempt: Attempt): Promise<void> {
    const session = attempt.session;
    if (session !== undefined && !attempt.channelBroken) {
      await this.withinTimeout(session.close(true), this.options.timeoutMs, 'CloseSession').catch((error: unknown) => this.options.log.debug({ error: String(error) }, 'closing the OPC UA session failed'));
    }
    await attempt.client.disconnect().catch((error: unknown) => this.options.log.debug({ error: String(error) }, 'disconnecting the OPC UA client failed'));
  }

  /**
   * node-opcua waits for a silent server as long as its 60 s transport timeout; the attempt gives
   * up sooner and the owner's backoff decides when to try again.
   */
  private withinTimeout<T>(operation: Promise<T>, timeoutMs: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} got no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    return Promise.race([operation, timeout]).finally(() => clearTimeout(timer));
  }

  private createClient(): OPCUAClient {
    const { options } = this;
    return OPCUAClient.create({
      applicationName: 'Tirta connector',
      clientCertificateManager: new OPCUACertificateManager({ rootFolder: options.pkiFolder, automaticallyAcceptUnknownCertificate: true }),
      securityMode: options.securityMode === 'SignAndEncrypt' ? MessageSecurityMode.SignAndEncrypt : MessageSecurityMode.None,
      securityPolicy: options.securityPolicy === 'Basic256Sha256' ? SecurityPolicy.Basic256Sha256 : SecurityPolicy.None,
      // This class is the reconnection owner; node-opcua must give up at once and report.
      connectionStrategy: { maxRetry: 0, initialDelay: options.reconnect.initialMs, maxDelay: options.reconnect.maxMs },
      // The configured URL may name the host differently from what the server advertises (NAT, IP vs name).
      endpointMustExist: false,
      // Per request; node-opcua raises anything under 5 s to 5 s.
      defaultTransactionTimeout: options.timeoutMs,
      // A read of the server state on an idle session finds a dead link that TCP alone would not;
      // it stays well under node-opcua's idle-socket timeout (half of its 60 s transport timeout).
      keepSessionAlive: true,
      keepAliveInterval: Math.max(1000, options.timeoutMs * 2),
      // A session orphaned by a cut link is dropped by the server after this, not kept for hours.
      requestedSessionTimeout: Math.max(30_000, options.timeoutMs * 6),
    });
  }

  private identity(): UserIdentityInfo {
    const user = this.options.user;
    if (user === undefined) return { type: UserTokenType.Anonymous };
    return { type: UserTokenType.UserName, userName: user.username, password: user.password };
  }
}
