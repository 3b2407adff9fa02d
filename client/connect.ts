// A client's way in, shared by the one-request path (oneshot.ts) and the library (index.ts):
// connect (starting the daemon when allowed), `initialize`, and the checks of its answer before
// anything else is sent.
import { setTimeout as sleep } from 'node:timers/promises';
import { connectOrStart, systemdOwnsSocket } from './autostart.js';
import { CodexdError, ConnectionLost, DaemonUnreachableError } from '../shared/errors.js';
import type { ExpectedDaemon } from '../shared/paths.js';
import { PROTOCOL_VERSION, Requests, type InitializeParams, type InitializeResult } from '../shared/protocol.js';
import { RpcClient } from '../shared/rpc-client.js';
import { checkServes } from '../shared/trust.js';
import { VERSION } from '../shared/version.js';

export interface OpenOptions {
  autostart: boolean;
  /** What the daemon must serve; `{}` accepts any daemon. */
  expect: ExpectedDaemon;
  clientInfo?: InitializeParams['clientInfo'];
  /** Any version will do (`codex-auth daemon status|stop|start`: the commands that control the daemon itself). */
  anyVersion?: boolean;
}

export interface OpenDaemon {
  connection: RpcClient;
  served: InitializeResult;
}

/** How long a client waits for a daemon it asked to exit. */
const EXIT_WAIT_MS = 10_000;

/**
 * A connection to the daemon on `socketPath` that has answered `initialize`, serves what `expect`
 * asks for, and is of this client's version: an autostarted daemon of another version is asked
 * to exit and replaced (docs/protocol.md, "Versions").
 */
export async function openDaemon(socketPath: string, options: OpenOptions): Promise<OpenDaemon> {
  const opened = await openAny(socketPath, options);
  const other = otherVersion(opened.served, socketPath, options);
  if (!other) return opened;
  const { connection, served } = opened;
  if (!options.autostart || !startedByAutostart(served, socketPath)) {
    connection.close();
    throw new DaemonUnreachableError(`${other}; restart it: ${restartCommand(served, socketPath)}`);
  }
  await stop(connection);
  return openAny(socketPath, options);
}

/** Why the daemon is not this client's version, or null when it is (or any will do). */
function otherVersion(served: InitializeResult, socketPath: string, options: OpenOptions): string | null {
  // Without codexHome the daemon is on a restricted socket: another machine's, of its own version.
  if (options.anyVersion || served.codexHome === undefined) return null;
  if (served.serverInfo.version === VERSION && served.protocolVersion === PROTOCOL_VERSION) return null;
  return `codexd ${served.serverInfo.version} (protocol ${served.protocolVersion}) is running on ${socketPath}, but this client is codexd ${VERSION} (protocol ${PROTOCOL_VERSION})`;
}

/** Daemons older than protocol 2 do not say how they were started: one systemd does not own is taken for autostarted. */
function startedByAutostart(served: InitializeResult, socketPath: string): boolean {
  return served.startedBy === 'autostart' || (served.startedBy === undefined && !systemdOwnsSocket(socketPath));
}

function restartCommand(served: InitializeResult, socketPath: string): string {
  if (served.startedBy === 'systemd' || (served.startedBy === undefined && systemdOwnsSocket(socketPath))) return '`systemctl --user restart codexd.service`';
  if (served.startedBy === 'autostart') return '`codex-auth daemon stop`, then run your command again';
  return 'stop it (Ctrl-C where it runs, or `codex-auth daemon stop`) and start it again';
}

/** Asks the daemon to exit and waits until its process is gone. */
async function stop(connection: RpcClient): Promise<void> {
  try {
    const { pid } = await connection.request(Requests.daemonStatus, {}, EXIT_WAIT_MS);
    await connection.request(Requests.daemonShutdown, {}, EXIT_WAIT_MS).catch((error: unknown) => {
      if (!(error instanceof ConnectionLost)) throw error;
    });
    await waitForExit(pid, EXIT_WAIT_MS);
  } catch (error) {
    if (error instanceof CodexdError) throw new DaemonUnreachableError(`cannot restart the codexd of another version: ${error.message}`);
    throw error;
  } finally {
    connection.close();
  }
}

/** Resolves once process `pid` has exited, or after `timeoutMs`. */
export async function waitForExit(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(25);
  }
}

async function openAny(socketPath: string, options: OpenOptions): Promise<OpenDaemon> {
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
