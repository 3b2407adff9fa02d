// The client side of the codexd protocol, the one every client uses: the one-request path
// (`codex-auth token`), the library, autostart's probe and a follower's upstream link. Requests
// are matched to their responses by id; an error response rejects with CodexdError, a connection
// that closes (or a peer that breaks the framing) rejects what is pending with ConnectionLost, a
// request given a time limit rejects with NoAnswer when it passes. It loads no JSON-RPC library:
// `codex-auth token` stays light.
import type { Socket } from 'node:net';
import { CodexdError, ConnectionLost, DaemonUnreachableError, ErrorCodes, NoAnswer } from './errors.js';
import { frame, FrameParser, invalidMessage, isRecord, MAX_MESSAGE_BYTES } from './framing.js';
import { codeFromProtocol, MAX_INSTANCE_IDS, PROTOCOL_VERSION, Requests, type InitializeParams, type InitializeResult, type NotificationDef, type RequestDef } from './protocol.js';

export interface Disposable {
  dispose(): void;
}

interface Pending {
  method: string;
  resolve(result: unknown): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/** Longest error message kept from a peer: the rest is cut (a hostile peer's message goes into ours). */
const MAX_ERROR_MESSAGE_CHARS = 1000;

export class RpcClient {
  private readonly pending = new Map<number, Pending>();
  private readonly handlers = new Map<string, (params: unknown) => void>();
  private readonly closeListeners = new Set<() => void>();
  private nextId = 0;
  private closed = false;
  /** The protocol version the peer speaks (from its `initialize`): its error codes are read in it. */
  private peerProtocol = PROTOCOL_VERSION;

  constructor(
    private readonly socket: Socket,
    /** Who is at the other end, for messages: "codexd on /run/user/1000/codexd/codexd.sock". */
    readonly peer: string,
  ) {
    const parser = new FrameParser(MAX_MESSAGE_BYTES);
    socket.on('data', (chunk: Buffer) => {
      const messages: unknown[] = [];
      try {
        parser.push(chunk, (body) => messages.push(JSON.parse(body.toString('utf8'))));
      } catch {
        socket.destroy(); // a broken frame or a body that is not JSON: the connection cannot go on
      }
      for (const message of messages) this.receive(message);
    });
    socket.on('error', () => undefined); // 'close' follows
    socket.on('close', () => this.lost());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Sends a request; `timeoutMs` (0 or unset: none) bounds the wait for its answer. */
  request<P, R>({ method }: RequestDef<P, R>, params: P, timeoutMs = 0): Promise<R> {
    if (this.closed) return Promise.reject(new ConnectionLost(`${this.peer} closed the connection before answering ${method}`));
    const id = this.nextId++;
    return new Promise<R>((resolve, reject) => {
      const timer =
        timeoutMs > 0
          ? setTimeout(() => {
              this.pending.delete(id);
              reject(new NoAnswer(`${this.peer} did not answer ${method} within ${seconds(timeoutMs)}`));
            }, timeoutMs)
          : undefined;
      this.pending.set(id, { method, resolve: resolve as (result: unknown) => void, reject, timer });
      this.socket.write(frame({ jsonrpc: '2.0', id, method, params }));
    });
  }

  /** `initialize`, its answer checked for shape; the peer's error codes are read in its protocol version from then on. */
  async initialize(params: InitializeParams, timeoutMs = 0): Promise<InitializeResult> {
    const served = checkInitializeResult(await this.request(Requests.initialize, params, timeoutMs), this.peer);
    this.peerProtocol = served.protocolVersion;
    return served;
  }

  onNotification<P>({ method }: NotificationDef<P>, handler: (params: P) => void): void {
    this.handlers.set(method, handler as (params: unknown) => void);
  }

  /** Calls `listener` once the connection has closed (at once if it already has). */
  onClose(listener: () => void): Disposable {
    if (this.closed) queueMicrotask(listener);
    else this.closeListeners.add(listener);
    return { dispose: () => this.closeListeners.delete(listener) };
  }

  close(): void {
    this.socket.destroy();
    this.lost();
  }

  private receive(message: unknown): void {
    if (invalidMessage(message) || !isRecord(message)) {
      this.socket.destroy();
      return;
    }
    if (typeof message['method'] === 'string') {
      if (!('id' in message)) this.handlers.get(message['method'])?.(message['params']);
      return; // the daemon sends no requests
    }
    const id = message['id'];
    const pending = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!pending) return; // an answer to a request that timed out
    this.pending.delete(id as number);
    clearTimeout(pending.timer);
    const error = message['error'];
    if (isRecord(error)) pending.reject(this.errorOf(error));
    else pending.resolve(message['result']);
  }

  private errorOf(error: Record<string, unknown>): CodexdError {
    const { code, message } = error;
    const text = typeof message === 'string' ? message : '';
    return new CodexdError(
      Number.isSafeInteger(code) ? codeFromProtocol(this.peerProtocol, code as number) : ErrorCodes.internalError,
      text.length > MAX_ERROR_MESSAGE_CHARS ? `${text.slice(0, MAX_ERROR_MESSAGE_CHARS)}…` : text,
    );
  }

  private lost(): void {
    if (this.closed) return;
    this.closed = true;
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(new ConnectionLost(`${this.peer} closed the connection before answering ${pending.method}`));
    }
    this.pending.clear();
    for (const listener of this.closeListeners) listener();
    this.closeListeners.clear();
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** An `initialize` answer as this client reads it; anything else is refused (a hostile upstream is one such peer). */
export function checkInitializeResult(value: unknown, peer: string): InitializeResult {
  const bad = (why: string): never => {
    throw new DaemonUnreachableError(`${peer} is not a codexd this client can use: its answer to initialize ${why}`);
  };
  if (!isRecord(value)) return bad('is not an object');
  const info = value['serverInfo'];
  if (!isRecord(info) || info['name'] !== 'codexd' || typeof info['version'] !== 'string' || info['version'].length > 64) bad('has no serverInfo {name: "codexd", version}');
  const protocolVersion = value['protocolVersion'];
  if (!Number.isSafeInteger(protocolVersion) || (protocolVersion as number) < 1) bad('has no protocolVersion');
  const result: InitializeResult = { serverInfo: { name: 'codexd', version: (info as { version: string }).version }, protocolVersion: protocolVersion as number };
  for (const key of ['codexHome', 'issuer', 'clientId'] as const) {
    const field = value[key];
    if (field === undefined) continue;
    if (typeof field !== 'string' || field.length > 4096) bad(`has a ${key} that is not a short string`);
    result[key] = field as string;
  }
  const startedBy = value['startedBy'];
  if (startedBy !== undefined) {
    if (startedBy !== 'autostart' && startedBy !== 'systemd' && startedBy !== 'user') bad('has an unknown startedBy');
    result.startedBy = startedBy as InitializeResult['startedBy'];
  }
  const ids = value['instanceIds'];
  if (ids !== undefined) {
    if (!Array.isArray(ids) || ids.length > MAX_INSTANCE_IDS || !ids.every((id) => typeof id === 'string' && id.length <= 64)) bad('has instanceIds that are not a short list of ids');
    result.instanceIds = ids as string[];
  }
  return result;
}
