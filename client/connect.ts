// A client's way in, shared by the one-request path (oneshot.ts) and the library (index.ts):
// connect (starting the daemon when allowed), `initialize`, and the checks of its answer before
// anything else is sent.
import { connectOrStart } from './autostart.js';
import type { ExpectedDaemon } from '../shared/paths.js';
import type { InitializeParams, InitializeResult } from '../shared/protocol.js';
import { RpcClient } from '../shared/rpc-client.js';
import { checkServes } from '../shared/trust.js';

export interface OpenOptions {
  autostart: boolean;
  /** What the daemon must serve; `{}` accepts any daemon. */
  expect: ExpectedDaemon;
  clientInfo?: InitializeParams['clientInfo'];
}

export interface OpenDaemon {
  connection: RpcClient;
  served: InitializeResult;
}

/** A connection to the daemon on `socketPath` that has answered `initialize` and serves what `expect` asks for. */
export async function openDaemon(socketPath: string, options: OpenOptions): Promise<OpenDaemon> {
  const socket = await connectOrStart(socketPath, options.autostart);
  const connection = new RpcClient(socket, `codexd on ${socketPath}`);
  try {
    const served = await connection.initialize(options.clientInfo ? { clientInfo: options.clientInfo } : {});
    checkServes(socketPath, served, options.expect);
    return { connection, served };
  } catch (error) {
    connection.close();
    throw error;
  }
}
