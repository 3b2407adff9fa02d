// One request (after `initialize`) on a connection of its own, without the JSON-RPC library: what a short-lived
// command such as `codex-auth token` needs, for a fraction of the start-up cost (loading
// vscode-jsonrpc costs a CLI process more than everything else it does; see docs/performance.md).
//
// It behaves as CodexdClient does for one request: the same connection and autostart path,
// the same frame limits, the same CodexdError for an error response, and the same error when
// the connection ends before the response (a broken frame from the daemon ends it).
import type { Socket } from 'node:net';
import { connectOrStart } from './autostart.js';
import { CodexdError } from '../shared/errors.js';
import { frame, FrameParser, invalidMessage, isRecord, MAX_MESSAGE_BYTES } from '../shared/framing.js';
import { expectedDaemon, type ExpectedDaemon } from '../shared/paths.js';
import { Requests, type RequestDef } from '../shared/protocol.js';
import { checkServes } from '../shared/trust.js';

/** What vscode-jsonrpc rejects pending requests with when the connection closes. */
const PENDING_RESPONSE_REJECTED = -32097;
/** What vscode-jsonrpc's ResponseError uses for an error response whose code is not a number. */
const UNKNOWN_ERROR_CODE = -32001;

/**
 * Sends one request and resolves with its result; rejects with CodexdError for an error response.
 * `initialize` goes first, and the request only once the daemon serves what `expected` asks for.
 */
export async function requestOnce<P extends object, R>(socketPath: string, autostart: boolean, request: RequestDef<P, R>, params: P, expected: ExpectedDaemon = expectedDaemon()): Promise<R> {
  const socket = await connectOrStart(socketPath, autostart);
  try {
    const call = responses(socket);
    checkServes(socketPath, await call(Requests.initialize, {}), expected);
    return await call(request, params);
  } finally {
    socket.destroy();
  }
}

/** Sequential calls on one connection: each resolves with its response, or rejects as CodexdClient would. */
function responses(socket: Socket): <P, R>(request: RequestDef<P, R>, params: P) => Promise<R> {
  const parser = new FrameParser(MAX_MESSAGE_BYTES);
  let nextId = 0;
  let waiting: { id: number; resolve(value: unknown): void; reject(error: Error): void } | null = null;
  let closed = false;
  const fail = (error: Error): void => {
    waiting?.reject(error);
    waiting = null;
  };
  /** Returns false once the connection must end (a broken frame, or an error response). */
  const take = (message: unknown): boolean => {
    if (invalidMessage(message)) return false;
    if (!isRecord(message) || 'method' in message || !waiting || message['id'] !== waiting.id) return true; // a notification: not ours
    const error = message['error'];
    if (error) {
      const { code, message: text } = error as { code?: unknown; message?: unknown };
      fail(new CodexdError(typeof code === 'number' ? code : UNKNOWN_ERROR_CODE, text === undefined ? '' : String(text)));
      return false;
    }
    if (message['result'] === undefined) return true;
    waiting.resolve(message['result']);
    waiting = null;
    return true;
  };
  let ended = false;
  const onBody = (body: Buffer): void => {
    if (ended || take(JSON.parse(body.toString('utf8')))) return;
    ended = true;
    socket.destroy();
  };
  socket.on('data', (chunk: Buffer) => {
    try {
      parser.push(chunk, onBody);
    } catch {
      socket.destroy();
    }
  });
  const disposed = (): CodexdError => new CodexdError(PENDING_RESPONSE_REJECTED, 'Pending response rejected since connection got disposed');
  socket.on('error', () => undefined); // 'close' follows
  socket.on('close', () => {
    closed = true;
    fail(disposed());
  });
  return <P, R>({ method }: RequestDef<P, R>, params: P) =>
    new Promise<R>((resolve, reject) => {
      if (closed) return reject(disposed());
      const id = nextId++;
      waiting = { id, resolve: resolve as (value: unknown) => void, reject };
      socket.write(frame({ jsonrpc: '2.0', id, method, params }));
    });
}
