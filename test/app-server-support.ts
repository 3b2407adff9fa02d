// A host for `codex-auth app-server`, as an editor drives it: the built codex-auth as its own
// process, newline-delimited JSON-RPC on its stdin and stdout, stderr collected. Shared by the
// tests with a stand-in app-server (app-server.test.ts) and with the real one (interop/).
import { spawn, type ChildProcess } from 'node:child_process';
import { cliBin, killAtEnd, waitFor, type Sandbox } from './helpers.js';

export interface HostMessage {
  id?: string | number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { code: number; message: string };
}

export interface Host {
  child: ChildProcess;
  /** Every message the bridge sent the host, in order. */
  received: HostMessage[];
  stderr(): string;
  /** Sends a request and resolves with its reply (result or error). */
  request(method: string, params?: unknown, timeoutMs?: number): Promise<HostMessage>;
  notify(method: string, params?: unknown): void;
  /** The first notification (or server request) `method` whose params satisfy `match`, waiting up to timeoutMs. */
  next(method: string, match?: (params: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<HostMessage>;
  /** initialize (with the given capabilities, none by default) and initialized, as an editor starts. */
  handshake(capabilities?: Record<string, unknown> | null): Promise<HostMessage>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs `codex-auth app-server ARGS` in the sandbox's environment plus `env`. */
export function startHost(box: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}): Host {
  const child = spawn(process.execPath, [cliBin, 'app-server', ...args], { env: { ...box.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  killAtEnd(child);
  const received: HostMessage[] = [];
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    let newline;
    while ((newline = stdout.indexOf('\n')) !== -1) {
      const line = stdout.slice(0, newline);
      stdout = stdout.slice(newline + 1);
      if (line.trim() !== '') received.push(JSON.parse(line) as HostMessage);
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  child.stdin!.on('error', () => undefined);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
  let nextId = 1;
  const send = (message: object): void => void child.stdin!.write(`${JSON.stringify(message)}\n`);
  const host: Host = {
    child,
    received,
    stderr: () => stderr,
    async request(method, params, timeoutMs = 20_000) {
      const id = nextId++;
      send(params === undefined ? { id, method } : { id, method, params });
      return waitFor(() => received.find((m) => m.id === id && m.method === undefined), `the reply to ${method} (stderr: ${stderr.slice(-600)})`, timeoutMs);
    },
    notify(method, params) {
      send(params === undefined ? { method } : { method, params });
    },
    next(method, match = () => true, timeoutMs = 20_000) {
      return waitFor(() => received.find((m) => m.method === method && match(m.params ?? {})), `${method} from the bridge (stderr: ${stderr.slice(-600)})`, timeoutMs);
    },
    async handshake(capabilities = null) {
      const reply = await host.request('initialize', { clientInfo: { name: 'codexd-test-host', version: '1.0.0' }, capabilities });
      host.notify('initialized');
      return reply;
    },
    exited,
  };
  return host;
}
