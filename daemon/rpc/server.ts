// Accepts client connections and runs JSON-RPC on each. One connection's failure (a broken
// frame, a huge message, a peer that stops reading) closes that connection and nothing else.
// Output nobody reads is bounded per connection (the transport) and across all of them (here).
import { createServer, type Server, type Socket } from 'node:net';
import { frame } from '../../shared/framing.js';
import { ErrorCodes, Notifications, Requests, type LoginCompleted, type NotificationDef, type RateLimitsUpdated, type Status } from '../../shared/protocol.js';
import { FramedConnection, type Answer, type IncomingRequest, type TransportLimits } from '../../shared/transport.js';
import type { Logger } from '../runtime/log.js';
import { peerUid } from '../../shared/os.js';
import { AccountNotFound, CredentialStoreUnavailable, DomainError, IssuerUnavailable, LoginFailed, LoginUpstream, NoChatgptUsage, NotLoggedIn, ReauthRequired, StorageFailed, UsageUnavailable } from '../errors.js';
import { accountUpdated } from './codex-shapes.js';
import { scrub, scrubStrings } from '../runtime/secrets.js';
import { RequestRejected } from './params.js';

/** The connection a request came on. */
export interface Peer {
  /** It came on the restricted socket. */
  readonly restricted: boolean;
  /** Calls `listener` once the connection has closed (soon, if it already has); returns a function that forgets it. */
  onClose(listener: () => void): () => void;
}

export type RequestDispatch = (params: unknown, peer: Peer) => unknown;

function createPeer(restricted: boolean): Peer & { close(): void } {
  const listeners = new Set<() => void>();
  let closed = false;
  return {
    restricted,
    onClose: (listener) => {
      if (closed) queueMicrotask(listener);
      else listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close: () => {
      if (closed) return;
      closed = true;
      for (const listener of listeners) listener();
      listeners.clear();
    },
  };
}

/** The JSON-RPC code of each domain error: the one place where they become JSON-RPC errors. */
const DOMAIN_CODES: ReadonlyArray<[abstract new (...args: never[]) => DomainError, number]> = [
  [NotLoggedIn, ErrorCodes.notLoggedIn],
  [ReauthRequired, ErrorCodes.reauthRequired],
  [IssuerUnavailable, ErrorCodes.issuerUnavailable],
  [LoginFailed, ErrorCodes.loginFailed],
  [LoginUpstream, ErrorCodes.loginUpstream],
  [StorageFailed, ErrorCodes.storageFailed],
  [AccountNotFound, ErrorCodes.accountNotFound],
  [CredentialStoreUnavailable, ErrorCodes.credentialStoreUnavailable],
  [NoChatgptUsage, ErrorCodes.noChatgptUsage],
  [UsageUnavailable, ErrorCodes.usageUnavailable],
];

/**
 * Results that are secrets by design (the token asked for; the login's URL and user code) are
 * sent as they are. Everything else that leaves here is scrubbed of every secret the daemon knows.
 */
const SECRET_RESULTS = new Set<string>([Requests.accountToken.method, Requests.accountSession.method, Requests.loginStart.method]);

/** What the restricted socket serves: the requests the protocol marks `restricted`. */
const RESTRICTED_METHODS = new Set<string>(Object.values(Requests).flatMap((def) => (def.restricted ? [def.method] : [])));

/** The answer to a request the restricted socket does not serve (docs/remote.md). */
export function restrictedError(what: string): RequestRejected {
  return new RequestRejected(ErrorCodes.restricted, `${what} is not served on the restricted socket, which is forwarded from the machine that holds the login; run it on that machine`);
}

/** Unread output across all connections past which the connections furthest behind are cut off. */
const MAX_UNREAD_BYTES = 64 * 1024 * 1024;

export interface ServerOptions {
  /** The restricted socket: only the requests and notifications the protocol marks `restricted`. */
  restricted: boolean;
  maxConnections: number;
  limits: TransportLimits;
  handlers: Map<string, RequestDispatch>;
  log: Logger;
  /** Told of every request (the daemon gives its free heap back once they stop: runtime/idle-trim.ts). */
  activity: { touch(): void };
}

export class RpcServer {
  readonly server: Server;
  private readonly connections = new Map<Socket, FramedConnection>();
  private readonly ownUid = process.getuid?.();
  private inFlight = 0;
  private idle: (() => void) | null = null;
  /** Frozen results, serialized once: account/token's is the same object until the login changes. */
  private readonly serialized = new WeakMap<object, string>();

  constructor(private readonly options: ServerOptions) {
    this.server = createServer({ allowHalfOpen: false }, (socket) => this.accept(socket));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  broadcastStatus(status: Status): void {
    this.broadcast(Notifications.accountUpdated, accountUpdated(status));
  }

  broadcastLoginCompleted(event: LoginCompleted): void {
    this.broadcast(Notifications.loginCompleted, event);
  }

  /** The restricted socket hears of the active account's usage only. */
  broadcastRateLimits(update: RateLimitsUpdated): void {
    if (this.options.restricted && !update.active) return;
    this.broadcast(Notifications.rateLimitsUpdated, update);
  }

  /**
   * Notifications are where unread output adds up: one per connection, readers or not. Each is
   * framed once, into one buffer every connection shares, and past the global budget for unread
   * output the connections furthest behind are cut off.
   */
  private broadcast<P>({ method, restricted }: NotificationDef<P>, params: P): void {
    if (this.options.restricted && !restricted) return;
    const framed = Buffer.from(frame({ jsonrpc: '2.0', method, params: scrubStrings(params) }));
    for (const connection of this.connections.values()) connection.writeFrame(framed);
    let unread = 0;
    for (const socket of this.connections.keys()) unread += socket.writableLength;
    if (unread <= MAX_UNREAD_BYTES) return;
    const slowest = [...this.connections.keys()].sort((a, b) => b.writableLength - a.writableLength);
    let cut = 0;
    for (const socket of slowest) {
      if (unread <= MAX_UNREAD_BYTES) break;
      unread -= socket.writableLength;
      socket.destroy();
      cut++;
    }
    this.options.log.warn({ cut, limitBytes: MAX_UNREAD_BYTES }, 'cut off the clients furthest behind in reading their notifications');
  }

  /** Stops accepting, then closes every connection once pending responses are written. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Resolves once no request is being handled (or after `timeoutMs`). */
  drained(timeoutMs: number): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.idle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  closeConnections(): void {
    for (const socket of this.connections.keys()) socket.end();
  }

  private accept(socket: Socket): void {
    const { log, limits, maxConnections, activity } = this.options;
    // First of all: a peer that hung up before we got to it (EPIPE, ECONNRESET) is never fatal to the daemon.
    socket.on('error', () => undefined);
    // ssh-agent's check: only our own uid (or root) may talk to us, whatever the socket's mode.
    const uid = peerUid(socket);
    if (uid !== undefined && uid !== this.ownUid && uid !== 0) {
      log.warn({ peerUid: uid }, 'refused a connection from another user');
      socket.destroy();
      return;
    }
    if (this.connections.size >= maxConnections) {
      socket.end(frame({ jsonrpc: '2.0', id: null, error: { code: ErrorCodes.tooManyConnections, message: `codexd: too many connections (limit ${maxConnections})` } }));
      log.warn({ limit: maxConnections }, 'refused a connection over the limit');
      return;
    }
    const peer = createPeer(this.options.restricted);
    const connection = new FramedConnection(socket, limits, {
      request: (request) => {
        activity.touch();
        this.answer(connection, request, peer);
      },
      error: (error) => log.debug({ err: error.message }, 'connection error'),
    });
    socket.on('close', () => {
      this.connections.delete(socket);
      peer.close();
    });
    this.connections.set(socket, connection);
  }

  private answer(connection: FramedConnection, { id, method, params }: IncomingRequest, peer: Peer): void {
    const send = (answer: Answer): void => {
      try {
        connection.answer(id, answer);
      } catch (error) {
        this.options.log.error({ method, err: (error as Error).message }, 'could not send an answer');
      }
    };
    const answer = this.dispatch(method, params, peer);
    if (answer instanceof Promise) void answer.then(send);
    else send(answer);
  }

  /**
   * The answer to a request: at once when its handler answers at once (account/token with a token
   * at hand: no turn through the microtask queue), else a promise of it, which never rejects.
   */
  private dispatch(method: string, params: unknown, peer: Peer): Answer | Promise<Answer> {
    const handler = this.options.handlers.get(method);
    if (!handler) return { error: { code: ErrorCodes.methodNotFound, message: `Unknown method: ${method}` } };
    if (peer.restricted && !RESTRICTED_METHODS.has(method)) return { error: { code: ErrorCodes.restricted, message: restrictedError(method).message } };
    this.inFlight++;
    let result: unknown;
    try {
      result = handler(params ?? {}, peer);
    } catch (error) {
      return this.settle(method, { error });
    }
    if (result instanceof Promise) return result.then((value: unknown) => this.settle(method, { value }), (error: unknown) => this.settle(method, { error }));
    return this.settle(method, { value: result });
  }

  /** The answer to a handler's outcome (what it returned, or what it threw); the request is no longer in flight. */
  private settle(method: string, outcome: { value: unknown } | { error: unknown }): Answer {
    try {
      if ('error' in outcome) throw outcome.error;
      const result = outcome.value ?? null;
      if (!SECRET_RESULTS.has(method)) return { result: scrubStrings(result) };
      return typeof result === 'object' && result !== null && Object.isFrozen(result) ? { resultJson: this.serializedOnce(result) } : { result };
    } catch (error) {
      const [code, message] = this.errorReply(method, error);
      return { error: { code, message: scrub(message) } };
    } finally {
      if (--this.inFlight === 0) this.idle?.();
    }
  }

  private serializedOnce(result: object): string {
    let json = this.serialized.get(result);
    if (json === undefined) {
      json = JSON.stringify(result);
      this.serialized.set(result, json);
    }
    return json;
  }

  private errorReply(method: string, error: unknown): [number, string] {
    if (error instanceof RequestRejected) return [error.code, error.message];
    const domain = error instanceof DomainError ? DOMAIN_CODES.find(([type]) => error instanceof type) : undefined;
    if (domain) return [domain[1], (error as Error).message];
    // A bug, whatever the method: logged with its stack, answered as an internal error.
    this.options.log.error({ method, err: String((error as Error)?.stack ?? error) }, 'request failed');
    return [ErrorCodes.internalError, `codexd failed to handle ${method}: ${(error as Error)?.message ?? String(error)}`];
  }
}
