// One request (after `initialize`) on a connection of its own: what a short-lived command such
// as `codex-auth token` needs. The same connection, checks and errors as the library (connect.ts
// and shared/rpc-client.ts), without its reconnects and listeners.
import { openDaemon } from './connect.js';
import { expectedDaemon, type ExpectedDaemon } from '../shared/paths.js';
import type { RequestDef } from '../shared/protocol.js';

/**
 * Sends one request and resolves with its result; rejects with CodexdError for an error response.
 * `initialize` goes first, and the request only once the daemon serves what `expected` asks for.
 */
export async function requestOnce<P extends object, R>(socketPath: string, autostart: boolean, request: RequestDef<P, R>, params: P, expected: ExpectedDaemon = expectedDaemon()): Promise<R> {
  const { connection } = await openDaemon(socketPath, { autostart, expect: expected });
  try {
    return await connection.request(request, params);
  } finally {
    // On the next turn: a command that exits with the answer (`codex-auth token`) is gone first,
    // and so skips the half millisecond a socket's first destroy() costs.
    setImmediate(() => connection.close());
  }
}
