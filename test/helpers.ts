// Test harness: a private sandbox per test (CODEX_HOME, socket folder, config and state
// folders), the built codexd as a real child process, and the real codex-auth binary.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { connect, type CodexdClient } from '../client/index.js';
import { daemonLockPath, defaultLogFile } from '../shared/paths.js';
import { canConnect, waitFor } from '../support/wait.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const codexdBin = join(root, 'dist', 'daemon', 'codexd.cjs');
/** The `codex-auth` bin as package.json declares it (the bundle `npm run build` writes). */
export const cliBin = join(root, (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['codex-auth']!);

export interface Sandbox {
  dir: string;
  codexHome: string;
  socket: string;
  logFile: string;
  env: NodeJS.ProcessEnv;
  /** Every daemon log file and captured output, for secret scans. */
  captured: string[];
  cleanup(): void;
}

/** Short paths under /tmp, so socket paths stay far below the 107-byte limit. */
export function sandbox(extraEnv: NodeJS.ProcessEnv = {}): Sandbox {
  const dir = mkdtempSync('/tmp/cxd-');
  const codexHome = join(dir, 'home');
  const run = join(dir, 'run');
  mkdirSync(run, { mode: 0o700 });
  const socket = join(run, 'codexd', 'codexd.sock');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: join(dir, 'userhome'),
    CODEX_HOME: codexHome,
    XDG_RUNTIME_DIR: run,
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_STATE_HOME: join(dir, 'state'),
    CODEXD_SOCKET: socket,
    CODEXD_LOG_LEVEL: 'debug',
    ...extraEnv,
  };
  const box: Sandbox = {
    dir,
    codexHome,
    socket,
    logFile: defaultLogFile(env), // where an autostarted daemon logs, too
    env,
    captured: [],
    cleanup: () => {
      killDaemonOf(codexHome, env);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return box;
}

/** Kills whichever codexd holds this CODEX_HOME (started by a test or by autostart), so no test leaks one. */
function killDaemonOf(codexHome: string, env: NodeJS.ProcessEnv): void {
  try {
    const { pid } = JSON.parse(readFileSync(daemonLockPath(codexHome, env), 'utf8')) as { pid: number };
    process.kill(pid, 'SIGKILL');
  } catch {
    // None running.
  }
}

/** Daemons still running when a test file ends (a test failed before stopping one) are killed. */
const live = new Set<ChildProcess>();
after(() => {
  for (const proc of live) proc.kill('SIGKILL');
});

export interface Daemon {
  proc: ChildProcess;
  pid: number;
  stderr(): string;
  /** SIGTERM and wait for the exit status. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export { canConnect, waitFor };

/** Starts the built codexd in the sandbox, logging to its log file, and waits until it answers. */
export async function startDaemon(box: Sandbox, options: { env?: NodeJS.ProcessEnv; args?: string[]; waitReady?: boolean } = {}): Promise<Daemon> {
  const proc = spawn(process.execPath, [codexdBin, '--log-file', box.logFile, ...(options.args ?? [])], {
    env: { ...box.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  proc.stdout!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  live.add(proc);
  proc.once('exit', () => live.delete(proc));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    proc.once('exit', (code, signal) => {
      box.captured.push(stderr);
      resolve({ code, signal });
    });
  });
  const daemon: Daemon = {
    proc,
    pid: proc.pid!,
    stderr: () => stderr,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return (await exited).code;
    },
  };
  if (options.waitReady !== false) {
    const socket = (options.env?.['CODEXD_SOCKET'] as string | undefined) ?? box.socket;
    await Promise.race([
      waitFor(() => canConnect(socket), `codexd to listen on ${socket}`),
      exited.then(({ code }) => {
        throw new Error(`codexd exited with ${code} before it was ready: ${stderr}`);
      }),
    ]);
  }
  return daemon;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real codex-auth binary. */
export function cli(box: Sandbox, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliBin, ...args], { env: { ...box.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`codex-auth ${args.join(' ')} timed out; stdout=${stdout} stderr=${stderr}`));
    }, options.timeoutMs ?? 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      box.captured.push(stdout, stderr);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** A client of the library, on the sandbox's socket, never autostarting. */
export function client(box: Sandbox, socket = box.socket): Promise<CodexdClient> {
  return connect({ socket, autostart: false });
}

export function readLog(box: Sandbox): string {
  try {
    return readFileSync(box.logFile, 'utf8');
  } catch {
    return '';
  }
}

/** Everything a test may scan for leaked secrets: daemon logs and captured process output. */
export function everythingCaptured(box: Sandbox): string {
  return [readLog(box), ...box.captured].join('\n');
}

export function readAuth(box: Sandbox): string {
  return readFileSync(join(box.codexHome, 'auth.json'), 'utf8');
}

/** Collects notifications of one kind from a client, for assertions. */
export function recorder<T>(subscribe: (listener: (value: T) => void) => unknown): { values: T[]; next(predicate?: (value: T) => boolean, timeoutMs?: number): Promise<T> } {
  const values: T[] = [];
  subscribe((value) => values.push(value));
  return {
    values,
    next: (predicate = () => true, timeoutMs = 5000) => waitFor(() => values.find(predicate), 'a notification', timeoutMs),
  };
}
