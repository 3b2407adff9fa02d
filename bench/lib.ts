// Shared pieces of `npm run bench`: statistics, figures, a private sandbox with its own codexd,
// auth.json fixtures in Codex's format, and /proc readings.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { FakeIssuer, TokenSet } from '../support/fake-issuer.js';
import { DAEMON_NODE_FLAGS } from '../client/autostart.js';
import { canConnect, waitFor } from '../support/wait.js';

export const root = fileURLToPath(new URL('../../', import.meta.url));
export const codexdBin = join(root, 'dist', 'daemon', 'codexd.cjs');
/** The `codex-auth` bin as package.json declares it (the bundle once it is built). */
export const cliBin = join(root, (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { bin: Record<string, string> }).bin['codex-auth']!);
export const echoServerBin = join(root, 'bench', 'echo-server.cjs');

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

// ---- statistics ----

export function sorted(values: number[]): number[] {
  return [...values].sort((a, b) => a - b);
}

/** Nearest-rank percentile of `values` (p in 0..100). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const s = sorted(values);
  const rank = Math.ceil((p / 100) * s.length);
  return s[Math.min(s.length - 1, Math.max(0, rank - 1))]!;
}

export function median(values: number[]): number {
  if (values.length === 0) return NaN;
  const s = sorted(values);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number;
}

export function summarize(values: number[]): Summary {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), runs: values.length };
}

// ---- figures ----

export interface Goal {
  /** As printed, e.g. "≤ 1.3×". */
  text: string;
  met: boolean;
}

export interface Figure {
  group: string;
  name: string;
  unit: string;
  value: Summary;
  goal: Goal | null;
  /** How the figure was taken, when it is not obvious from its name. */
  note?: string;
}

export function figure(group: string, name: string, unit: string, values: number[], goal?: (s: Summary) => Goal, note?: string): Figure {
  const value = summarize(values);
  const f: Figure = { group, name, unit, value, goal: goal ? goal(value) : null };
  if (note) f.note = note;
  return f;
}

export const atMost = (limit: number, text: string) => (s: Summary): Goal => ({ text, met: s.median <= limit });
export const atLeast = (limit: number, text: string) => (s: Summary): Goal => ({ text, met: s.median >= limit });
/** Every run, not just the median, must equal `want`. */
export const exactlyAll = (want: number, text: string) => (s: Summary): Goal => ({ text, met: s.min === want && s.max === want });

// ---- sandbox and daemon ----

export interface Sandbox {
  dir: string;
  codexHome: string;
  socket: string;
  logFile: string;
  env: NodeJS.ProcessEnv;
}

/** Short paths under /tmp (socket paths must stay under 107 bytes). */
export function sandbox(parent: string, name: string, extraEnv: NodeJS.ProcessEnv = {}): Sandbox {
  const dir = join(parent, name);
  mkdirSync(join(dir, 'run'), { recursive: true, mode: 0o700 });
  const codexHome = join(dir, 'home');
  const socket = join(dir, 'run', 'codexd', 'codexd.sock');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: join(dir, 'userhome'),
    CODEX_HOME: codexHome,
    XDG_RUNTIME_DIR: join(dir, 'run'),
    XDG_CONFIG_HOME: join(dir, 'config'),
    XDG_STATE_HOME: join(dir, 'state'),
    CODEXD_SOCKET: socket,
    CODEXD_NO_AUTOSTART: '1',
    ...extraEnv,
  };
  return { dir, codexHome, socket, logFile: join(dir, 'state', 'codexd.log'), env };
}

export function benchRoot(): string {
  return mkdtempSync('/tmp/cxbench-');
}

export function removeRoot(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export interface Proc {
  proc: ChildProcess;
  pid: number;
  /** From spawn until its socket accepted a connection, in ms (polled every millisecond). */
  startMs: number;
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const proc of live) proc.kill('SIGKILL');
});

/** Spawns `node args` and resolves once `socket` accepts a connection. */
async function spawnListening(args: string[], env: NodeJS.ProcessEnv, socket: string, what: string): Promise<Proc> {
  const started = performance.now();
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  live.add(proc);
  let output = '';
  let stopping = false;
  proc.stderr.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.once('exit', (code, signal) => {
    live.delete(proc);
    if (code !== 0 && signal === null && !stopping) process.stderr.write(`bench: ${what} exited with ${code}: ${output}\n`);
  });
  await waitFor(async () => proc.exitCode !== null || (await canConnect(socket)), `${what} on ${socket}`, 10_000, 1);
  const startMs = performance.now() - started;
  if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}: ${output}`);
  return {
    proc,
    pid: proc.pid!,
    startMs,
    stop: async () => {
      stopping = true;
      if (proc.exitCode === null && proc.signalCode === null) {
        proc.kill('SIGCONT');
        proc.kill('SIGTERM');
        const forced = setTimeout(() => proc.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(forced);
      }
    },
  };
}

/** Starts the built codexd in `box`, as a user would (default log level, log file), and waits until it answers. */
export function startDaemon(box: Sandbox): Promise<Proc> {
  return spawnListening([...DAEMON_NODE_FLAGS, codexdBin, '--log-file', box.logFile], box.env, box.socket, `codexd (see ${box.logFile})`);
}

/** Starts the baseline echo server (bench/echo-server.cjs) on `socket`, with the daemon's Node flags. */
export function startEchoServer(socket: string): Promise<Proc> {
  mkdirSync(join(socket, '..'), { recursive: true, mode: 0o700 });
  return spawnListening([...DAEMON_NODE_FLAGS, echoServerBin, socket], {}, socket, 'the echo server');
}

/** Starts bench/bare-listener.cjs on `socket`, with the daemon's Node flags. */
export function startBareListener(socket: string): Promise<Proc> {
  return spawnListening([...DAEMON_NODE_FLAGS, join(root, 'bench', 'bare-listener.cjs'), socket], {}, socket, 'the bare listener');
}

// ---- auth.json fixtures ----

/** auth.json as Codex CLI writes it (serde `to_string_pretty`, no trailing newline). */
export function codexAuthJson(tokens: TokenSet, accountId: string): string {
  const { id_token, access_token, refresh_token } = tokens;
  return JSON.stringify(
    {
      auth_mode: 'chatgpt',
      OPENAI_API_KEY: null,
      tokens: { id_token, access_token, refresh_token, account_id: accountId },
      last_refresh: new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000000Z'),
    },
    null,
    2,
  );
}

/** What another writer (Codex CLI, a person) does: a temp file in the same folder, then rename over auth.json. */
export function writeAtomically(codexHome: string, contents: string): void {
  mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  const temp = join(codexHome, `.bench-${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(temp, contents, { mode: 0o600 });
  renameSync(temp, join(codexHome, 'auth.json'));
}

/** Mints a ChatGPT login at the fake issuer and writes it as auth.json; returns the tokens. */
export function writeLogin(issuer: FakeIssuer, codexHome: string, accessExpiresInS = 3600): TokenSet {
  const tokens = issuer.mintTokens({ accessExpiresInS });
  writeAtomically(codexHome, codexAuthJson(tokens, issuer.account.accountId));
  return tokens;
}

/** The `exp` of a JWT, in ms. */
export function expMs(jwt: string): number {
  return (JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number }).exp * 1000;
}

// ---- /proc ----

/** Resident set size in bytes (VmRSS), or with `field` another line of /proc/<pid>/status (RssAnon: private memory). */
export function rssBytes(pid: number, field: 'VmRSS' | 'RssAnon' = 'VmRSS'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no ${field} for pid ${pid}`);
  return Number(match[1]) * 1024;
}

/** Clock ticks per second for /proc/<pid>/stat (sysconf(_SC_CLK_TCK); 100 on every common Linux build). */
const CLOCK_TICKS = ((): number => {
  try {
    const ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return ticks > 0 ? ticks : 100;
  } catch {
    return 100;
  }
})();

/** The fields of /proc/<pid>/stat after the command name (field 3 onwards). */
function statFields(pid: number | 'self'): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) may contain spaces; the fields after its closing parenthesis are fixed.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** CPU time (user + system) the process has used, in ms, at the kernel's tick resolution. */
export function cpuMs(pid: number): number {
  const fields = statFields(pid);
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}

/** CPU time (user + system) of this process's children that have exited and been waited for, in ms. */
export function childrenCpuMs(): number {
  const fields = statFields('self');
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / CLOCK_TICKS;
}

export const MiB = 1024 * 1024;
