// Accepts client connections and runs JSON-RPC on each. One connection's failure (a broken
// frame, a huge message, a peer that stops reading) closes that connection and nothing else.
import { createServer, type Server, type Socket } from 'node:net';
import { createMessageConnection, ResponseError, type Logger as RpcLogger, type MessageConnection } from 'vscode-jsonrpc/node';
import { ErrorCodes, Notifications, type LoginCompleted, type Status } from '../client/protocol.js';
import { FrameReader, FrameWriter, type TransportLimits } from '../client/transport.js';
import type { Logger } from './log.js';
import { peerUid } from '../client/os.js';
import { scrub } from './secrets.js';

/** The connection a request came on. */
export interface Peer {
  /** Calls `listener` once the connection has closed (soon, if it already has); returns a function that forgets it. */
  onClose(listener: () => void): () => void;
}

export type Handler = (params: unknown, peer: Peer) => unknown;

function createPeer(): Peer & { close(): void } {
  const listeners = new Set<() => void>();
  let closed = false;
  return {
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

export interface ServerOptions {
  maxConnections: number;
  limits: TransportLimits;
  handlers: Map<string, Handler>;
  log: Logger;
}

export class RpcServer {
  readonly server: Server;
  private readonly connections = new Set<MessageConnection>();
  private readonly sockets = new Set<Socket>();
  private readonly ownUid = process.getuid?.();
  private inFlight = 0;
  private idle: (() => void) | null = null;

  constructor(private readonly options: ServerOptions) {
    this.server = createServer({ allowHalfOpen: false }, (socket) => this.accept(socket));
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  broadcastStatus(status: Status): void {
    for (const connection of this.connections) void connection.sendNotification(Notifications.accountUpdated, status).catch(() => undefined);
  }

  broadcastLoginCompleted(event: LoginCompleted): void {
    for (const connection of this.connections) void connection.sendNotification(Notifications.loginCompleted, event).catch(() => undefined);
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
    for (const socket of this.sockets) socket.end();
  }

  private accept(socket: Socket): void {
    const { log, limits, maxConnections } = this.options;
    // First of all: a peer that hung up before we got to it (EPIPE, ECONNRESET) is never fatal to the daemon.
    socket.on('error', () => undefined);
    // ssh-agent's check: only our own uid (or root) may talk to us, whatever the socket's mode.
    const uid = peerUid(socket);
    if (uid !== undefined && uid !== this.ownUid && uid !== 0) {
      log.warn({ peerUid: uid }, 'refused a connection from another user');
      socket.destroy();
      return;
    }
    if (this.sockets.size >= maxConnections) {
      const body = JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32000, message: `codexd: too many connections (limit ${maxConnections})` } });
      socket.end(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
      log.warn({ limit: maxConnections }, 'refused a connection over the limit');
      return;
    }
    this.sockets.add(socket);

    const writer = new FrameWriter(socket, limits, (id) => reader.answered(id));
    const reader = new FrameReader(socket, limits, (code, message, id) => {
      void writer.write({ jsonrpc: '2.0', id, error: { code, message } } as never);
    });
    const connection = createMessageConnection(reader, writer, rpcLogger(log));
    const peer = createPeer();
    connection.onRequest((method, params) => this.dispatch(method, params, peer));
    connection.onError(([error]) => log.debug({ err: error.message }, 'connection error'));
    connection.onClose(() => {
      this.connections.delete(connection);
      this.sockets.delete(socket);
      connection.dispose();
      peer.close();
    });
    socket.on('close', () => {
      this.connections.delete(connection);
      this.sockets.delete(socket);
      peer.close();
    });
    this.connections.add(connection);
    connection.listen();
  }

  private async dispatch(method: string, params: unknown, peer: Peer): Promise<unknown> {
    const handler = this.options.handlers.get(method);
    if (!handler) return new ResponseError(ErrorCodes.methodNotFound, `Unknown method: ${method}`);
    this.inFlight++;
    try {
      return await handler(params ?? {}, peer);
    } catch (error) {
      if (error instanceof ResponseError) return error;
      this.options.log.error({ method, err: scrub(String((error as Error)?.stack ?? error)) }, 'request failed');
      return new ResponseError(ErrorCodes.internalError, scrub(`codexd failed to handle ${method}: ${(error as Error)?.message ?? String(error)}`));
    } finally {
      if (--this.inFlight === 0) this.idle?.();
    }
  }
}

function rpcLogger(log: Logger): RpcLogger {
  return {
    error: (message) => log.debug(scrub(message)),
    warn: (message) => log.debug(scrub(message)),
    info: () => undefined,
    log: () => undefined,
  };
}
