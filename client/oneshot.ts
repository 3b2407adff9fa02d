// One request on a connection of its own, without the JSON-RPC library: what a short-lived
// command such as `codex-auth token` needs, for a fraction of the start-up cost (loading
// vscode-jsonrpc costs a CLI process more than everything else it does; see "Performance" in the README).
//
// It behaves as CodexdClient does for one request: the same connection and autostart path,
// the same frame limits, the same CodexdError for an error response, and the same error when
// the connection ends before the response (a broken frame from the daemon ends it).
import { connectOrStart } from './autostart.js';
import { CodexdError } from './errors.js';
import { frame, FramingError, HEADER_END, invalidMessage, isRecord, MAX_HEADER_BYTES, MAX_MESSAGE_BYTES, parseContentLength } from './framing.js';

/** What vscode-jsonrpc rejects pending requests with when the connection closes. */
const PENDING_RESPONSE_REJECTED = -32097;
/** What vscode-jsonrpc's ResponseError uses for an error response whose code is not a number. */
const UNKNOWN_ERROR_CODE = -32001;

/** Sends one request and resolves with its result; rejects with CodexdError for an error response. */
export async function requestOnce<R>(socketPath: string, autostart: boolean, method: string, params: object): Promise<R> {
  const socket = await connectOrStart(socketPath, autostart);
  try {
    return await new Promise<R>((resolve, reject) => {
      let pending: Buffer = Buffer.alloc(0);
      /** Returns false once the connection must end (a broken frame, or the response is in). */
      const take = (message: unknown): boolean => {
        if (invalidMessage(message)) return false;
        if (!isRecord(message) || message['id'] !== 0 || 'method' in message) return true; // a notification: not ours
        const error = message['error'];
        if (error) {
          const { code, message: text } = error as { code?: unknown; message?: unknown };
          reject(new CodexdError(typeof code === 'number' ? code : UNKNOWN_ERROR_CODE, text === undefined ? '' : String(text)));
          return false;
        }
        if (message['result'] === undefined) return true;
        resolve(message['result'] as R);
        return false;
      };
      socket.on('data', (chunk: Buffer) => {
        pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
        try {
          for (;;) {
            const end = pending.indexOf(HEADER_END);
            if (end < 0) {
              if (pending.length > MAX_HEADER_BYTES) throw new FramingError('header too long');
              return;
            }
            const length = parseContentLength(pending.subarray(0, end).toString('ascii'), MAX_MESSAGE_BYTES);
            const start = end + HEADER_END.length;
            if (pending.length < start + length) return;
            const body = pending.subarray(start, start + length);
            pending = pending.subarray(start + length);
            if (!take(JSON.parse(body.toString('utf8')))) {
              socket.destroy();
              return;
            }
          }
        } catch {
          socket.destroy();
        }
      });
      socket.on('error', () => undefined); // 'close' follows
      socket.on('close', () => reject(new CodexdError(PENDING_RESPONSE_REJECTED, 'Pending response rejected since connection got disposed')));
      socket.write(frame({ jsonrpc: '2.0', id: 0, method, params }));
    });
  } finally {
    socket.destroy();
  }
}
