// The tests' one vocabulary. A `Sandbox` (`box`) is a private temp home (CODEX_HOME, socket, config
// and state folders); `startDaemon(box)` runs the built codexd in it as a real child process, with
// the Node flags autostart uses; `stopDaemons` ends daemons in an after-hook, and `killAtEnd` kills
// whatever a failed test left running. `cli(box, args)` runs the real codex-auth to its exit,
// `startCli` lets the test read its output while it runs (pty.ts: on a terminal). `client(box)`
// connects the library and `watch(client)` records its notifications; `waitFor` and `sleep` wait.
// The fixtures built from these: login-support.ts `world` (fake issuer + sandbox + running daemon +
// watcher, secret-scanned at the end of the file), refresh-support.ts `scene` (the same with the
// daemon started on demand, per test), hardening/support.ts `suite` (per file, with its report).
import './hermetic.js'; // first: nothing below may see what the caller exported
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, afterEach } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { connect as netConnect } from 'node:net';
import { DAEMON_NODE_FLAGS } from '../client/autostart.js';
import { CodexdError, connect, type CodexdClient, type LoginCompleted, type Status } from '../client/index.js';
import { frame, FrameParser, MAX_MESSAGE_BYTES } from '../shared/framing.js';
import { daemonLockPath, defaultLogFile, defaultRestrictedSocketPath, expectedDaemon } from '../shared/paths.js';
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
  /** The user the sandbox belongs to when it is not the test's own (ssh-support.ts); its CLIs run as that user. */
  runAs?: { uid: number; gid: number };
  cleanup(): void;
}

/** Short paths under /tmp, so socket paths stay far below the 107-byte limit. */
export function sandbox(extraEnv: NodeJS.ProcessEnv = {}): Sandbox {
  if (process.platform === 'win32') return windowsSandbox(extraEnv);
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
  return sandboxOf(dir, codexHome, socket, env);
}

/** The variables a Windows process needs to start at all (SystemRoot for its DLLs and sockets). */
const WINDOWS_SYSTEM_ENV = ['SystemRoot', 'SYSTEMROOT', 'windir', 'WINDIR', 'ComSpec', 'PATHEXT', 'TEMP', 'TMP', 'SystemDrive'];

/** On Windows: a private profile (USERPROFILE, APPDATA, LOCALAPPDATA) in the temp folder and a pipe of its own. */
function windowsSandbox(extraEnv: NodeJS.ProcessEnv): Sandbox {
  const dir = mkdtempSync(join(tmpdir(), 'cxd-'));
  const profile = join(dir, 'profile');
  for (const folder of ['AppData\\Roaming', 'AppData\\Local']) mkdirSync(join(profile, folder), { recursive: true });
  const codexHome = join(profile, '.codex');
  const socket = `\\\\.\\pipe\\cxd-${basename(dir)}`;
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(WINDOWS_SYSTEM_ENV.filter((name) => process.env[name] !== undefined).map((name) => [name, process.env[name]])),
    PATH: process.env['PATH'] ?? process.env['Path'],
    USERPROFILE: profile,
    APPDATA: join(profile, 'AppData', 'Roaming'),
    LOCALAPPDATA: join(profile, 'AppData', 'Local'),
    CODEX_HOME: codexHome,
    CODEXD_SOCKET: socket,
    CODEXD_LOG_LEVEL: 'debug',
    ...extraEnv,
  };
  return sandboxOf(dir, codexHome, socket, env);
}

function sandboxOf(dir: string, codexHome: string, socket: string, env: NodeJS.ProcessEnv): Sandbox {
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
  boxes.push(box);
  return box;
}

/**
 * The phrase codexd logs, and prints, when a promise rejects with nobody to catch it
 * (daemon/main.ts). Every daemon a test starts, or autostarts, is checked for it after each test.
 */
const UNHANDLED_REJECTION = 'a promise rejected with nobody to catch it';
const boxes: Sandbox[] = [];
const daemonOutputs: Array<() => string> = [];

/** Fails the test in which a daemon said it had a promise rejected with nobody to catch it (each daemon once). */
function checkNoUnhandledRejection(): void {
  const outputs = [...daemonOutputs, ...boxes.map((box) => () => readLog(box))];
  for (const [index, read] of outputs.entries()) {
    const output = read();
    const at = output.indexOf(UNHANDLED_REJECTION);
    if (at < 0) continue;
    if (index < daemonOutputs.length) daemonOutputs.splice(index, 1);
    else boxes.splice(index - daemonOutputs.length, 1);
    assert.fail(`codexd had ${UNHANDLED_REJECTION}: ${output.slice(Math.max(0, at - 200), at + 800)}`);
  }
}
afterEach(checkNoUnhandledRejection);

const fileSandboxes: Sandbox[] = [];
after(() => {
  for (const box of fileSandboxes.splice(0)) box.cleanup();
});

/** A sandbox removed when the test file ends. */
export function fileSandbox(extraEnv: NodeJS.ProcessEnv = {}): Sandbox {
  const box = sandbox(extraEnv);
  fileSandboxes.push(box);
  return box;
}

/** Kills whichever codexd holds this CODEX_HOME (started by a test or by autostart), so no test leaks one. */
function killDaemonOf(codexHome: string, env: NodeJS.ProcessEnv): void {
  const pid = daemonPidOf(codexHome, env);
  try {
    if (pid !== null) process.kill(pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/** Children still running when a test file ends (a test failed before stopping one) are killed. */
const running = new Set<ChildProcess>();
after(() => {
  for (const child of running) child.kill('SIGKILL');
});

/** Kills `child` (a daemon, a CLI) when the test file ends, if it is still running then. */
/** strace arguments that make each of `syscalls` (comma-separated) return `delayMs` late, in every thread. */
export function slowSyscalls(syscalls: string, delayMs: number): string[] {
  return ['-f', '-qq', '--seccomp-bpf', '-o', '/dev/null', '-e', `trace=${syscalls}`, '-e', `inject=${syscalls}:delay_exit=${delayMs * 1000}`];
}

/** Why `strace <args>` cannot run here, or null: for the tests that skip without it. */
export function straceProblem(args: string[]): string | null {
  const probe = spawnSync('strace', [...args, 'true'], { encoding: 'utf8' });
  if (probe.error) return `strace is not installed (${probe.error.message}); test/system-deps.sh installs it`;
  return probe.status === 0 ? null : `strace cannot trace here (${probe.stderr.trim()})`;
}

/** The pid of the codexd that holds (or held) this CODEX_HOME, from its lock file; null before one has. */
export function daemonPidOf(codexHome: string, env: NodeJS.ProcessEnv): number | null {
  try {
    return (JSON.parse(readFileSync(daemonLockPath(codexHome, env), 'utf8')) as { pid: number }).pid;
  } catch {
    return null;
  }
}

export function killAtEnd(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

export interface Daemon {
  proc: ChildProcess;
  pid: number;
  stderr(): string;
  /** SIGTERM and wait for the exit status. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export { canConnect, sleep, waitFor };

/** Starts the built codexd in the sandbox, logging to its log file, and waits until it answers. */
export async function startDaemon(box: Sandbox, options: { env?: NodeJS.ProcessEnv; args?: string[]; waitReady?: boolean } = {}): Promise<Daemon> {
  const proc = spawn(process.execPath, [...DAEMON_NODE_FLAGS, codexdBin, '--log-file', box.logFile, ...(options.args ?? [])], {
    env: { ...box.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  proc.stdout!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  daemonOutputs.push(() => stderr);
  killAtEnd(proc);
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

/** For after-hooks: stops each daemon still running (SIGTERM, SIGKILL when it takes over 5 s). */
export async function stopDaemons(daemons: Daemon[]): Promise<void> {
  for (const d of daemons) {
    if (d.proc.exitCode !== null || d.proc.signalCode !== null) continue;
    const forced = setTimeout(() => d.proc.kill('SIGKILL'), 5000);
    await d.stop();
    clearTimeout(forced);
  }
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}

/** node with `argv`, as the sandbox's own user when it has one (setpriv: root only). */
function node(box: Sandbox, argv: string[]): [string, string[]] {
  if (!box.runAs) return [process.execPath, argv];
  return ['setpriv', [`--reuid=${box.runAs.uid}`, `--regid=${box.runAs.gid}`, '--clear-groups', process.execPath, ...argv]];
}

/** Starts the real codex-auth binary and lets the test read its output while it runs. */
export function startCli(box: Sandbox, args: string[], options: { env?: NodeJS.ProcessEnv; stdin?: 'pipe' | 'ignore' } = {}): RunningCli {
  const child = spawn(...node(box, [cliBin, ...args]), { env: { ...box.env, ...options.env }, stdio: [options.stdin ?? 'ignore', 'pipe', 'pipe'] });
  killAtEnd(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      box.captured.push(stdout, stderr);
      resolve(code);
    });
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** Whether process `pid` has `file` (a real path) open now, from /proc. */
export function holdsOpen(pid: number, file: string): boolean {
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === file;
      } catch {
        return false; // closed meanwhile
      }
    });
  } catch {
    return false;
  }
}

/** Runs the real codex-auth binary to its exit. */
export async function cli(box: Sandbox, args: string[], options: { input?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<CliResult> {
  const run = startCli(box, args, { env: options.env, stdin: 'pipe' });
  // A CLI that exits before it reads its input makes this write fail (EPIPE): its output and exit status say what happened.
  run.child.stdin!.on('error', () => undefined);
  run.child.stdin!.end(options.input ?? '');
  const timeoutMs = options.timeoutMs ?? 15_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      run.child.kill('SIGKILL');
      reject(new Error(`codex-auth ${args.join(' ')} timed out; stdout=${run.stdout()} stderr=${run.stderr()}`));
    }, timeoutMs);
  });
  const code = await Promise.race([run.exited, timeout]).finally(() => clearTimeout(timer));
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

/** codexd.socket as `systemctl --user enable` leaves it: the unit, and its link in sockets.target.wants (autostart stands aside only then). */
export function enableSocketUnit(box: Sandbox, unitText: string): void {
  const dir = join(box.env['XDG_CONFIG_HOME']!, 'systemd', 'user');
  mkdirSync(join(dir, 'sockets.target.wants'), { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'codexd.socket'), unitText);
  symlinkSync(join(dir, 'codexd.socket'), join(dir, 'sockets.target.wants', 'codexd.socket'));
}

/** A client of the library, on the sandbox's socket, never autostarting; it expects the sandbox's CODEX_HOME, not the caller's. */
export function client(box: Sandbox, socket = box.socket): Promise<CodexdClient> {
  return connect({ socket, autostart: false, expect: expectedDaemon(box.env) });
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

export function authPath(box: Sandbox): string {
  return join(box.codexHome, 'auth.json');
}

export function hasAuth(box: Sandbox): boolean {
  return existsSync(authPath(box));
}

export function readAuth(box: Sandbox): string {
  return readFileSync(authPath(box), 'utf8');
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

export type Recorder<T> = ReturnType<typeof recorder<T>>;

export interface Watch {
  client: CodexdClient;
  updates: Recorder<Status>;
  completed: Recorder<LoginCompleted>;
}

/** Records a client's account/updated and login/completed notifications; `seen` sees each one first. */
export function watch(c: CodexdClient, seen: (method: 'account/updated' | 'account/login/completed', value: unknown) => void = () => undefined): Watch {
  return {
    client: c,
    updates: recorder<Status>((listener) => c.onAccountUpdated((status) => {
      seen('account/updated', status);
      listener(status);
    })),
    completed: recorder<LoginCompleted>((listener) => c.onLoginCompleted((event) => {
      seen('account/login/completed', event);
      listener(event);
    })),
  };
}

/** The JSON-RPC error a call ends with; fails when it succeeds. */
export async function rpcError(call: Promise<unknown>): Promise<CodexdError> {
  try {
    const value = await call;
    assert.fail(`expected an error, got ${JSON.stringify(value)}`);
  } catch (error) {
    if (error instanceof CodexdError) return error;
    throw error;
  }
}

/** The restricted socket of the sandbox's daemon: beside its socket (docs/remote.md). */
export function restrictedSocket(box: Sandbox): string {
  return defaultRestrictedSocketPath(box.socket);
}

export interface RawReply {
  result?: unknown;
  error?: { code: number; message: string };
}

/** Sends one JSON-RPC request on a fresh connection, with nothing before it (not even initialize), and resolves with its answer. */
export function rawCall(socket: string, method: string, params: unknown = {}): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const conn = netConnect(socket);
    const parser = new FrameParser(MAX_MESSAGE_BYTES);
    conn.on('error', reject);
    conn.on('data', (chunk: Buffer) =>
      parser.push(chunk, (body) => {
        const message = JSON.parse(body.toString('utf8')) as RawReply & { id?: unknown };
        if (message.id !== 1) return; // a notification
        conn.destroy();
        resolve(message);
      }),
    );
    conn.write(frame({ jsonrpc: '2.0', id: 1, method, params }));
  });
}

/** VmRSS of a process, in KiB. */
export function rssKiB(pid: number): number {
  return statusKiB(pid, 'VmRSS');
}

/** VmHWM (the peak of VmRSS so far) of a process, in KiB. */
export function peakRssKiB(pid: number): number {
  return statusKiB(pid, 'VmHWM');
}

function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(match, `no ${field} for pid ${pid}`);
  return Number(match[1]);
}
