// The real Codex CLI for the interop tests: installed from the npm registry, pinned, into a cache
// folder outside node_modules, and run with a private CODEX_HOME and HOME so nothing touches the
// real user. Also the loopback stand-in for the backend (support/fake-backend.ts), so `codex exec`
// never leaves the machine, and a sampler that proves auth.json parses at every moment two writers share it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '../helpers.js';

/** The repository (this file is compiled to dist/test/interop/); not imported from helpers.ts, which registers test hooks. */
const root = fileURLToPath(new URL('../../../', import.meta.url));

/** The pinned Codex the interop tests run by default. */
export const CODEX_VERSION = '0.169.0';
/** The latest release on npm, for the tests that compare both (`version` options below). */
export const CODEX_LATEST = '0.171.0';
export const CODEX_VERSIONS = [CODEX_VERSION, CODEX_LATEST] as const;

/** Where a version is installed: .cache/codex-<version>. */
export function codexCacheOf(version: string): string {
  return join(root, '.cache', `codex-${version}`);
}

/** npm's launcher (bin/codex.js) of a version, which runs the native binary of the platform package. */
export function codexBinOf(version: string): string {
  return join(codexCacheOf(version), 'node_modules', '.bin', 'codex');
}

export const codexCache = codexCacheOf(CODEX_VERSION);
export const codexBin = codexBinOf(CODEX_VERSION);

function installedVersion(version: string): string | null {
  try {
    const manifest = JSON.parse(readFileSync(join(codexCacheOf(version), 'node_modules', '@openai', 'codex', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : null;
  } catch {
    return null;
  }
}

/** `codex --version` of the cached install, or null when it does not run. */
function runnableVersion(version: string): string | null {
  const bin = codexBinOf(version);
  if (!existsSync(bin)) return null;
  const result = spawnSync(bin, ['--version'], { encoding: 'utf8', env: { PATH: process.env['PATH'] }, timeout: 30_000 });
  return result.status === 0 ? result.stdout.trim() : null;
}

/**
 * Installs @openai/codex@<version> (default the pinned one) into .cache/codex-<version> unless it
 * is already there and runs. The native binary ships inside the registry package (optional
 * dependency @openai/codex-linux-x64).
 */
export function ensureCodex(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`), version: string = CODEX_VERSION): string {
  const expected = `codex-cli ${version}`;
  if (installedVersion(version) === version && runnableVersion(version) === expected) return expected;
  const cache = codexCacheOf(version);
  mkdirSync(cache, { recursive: true });
  const args = ['install', '--prefix', cache, '--no-save', '--no-audit', '--no-fund', `@openai/codex@${version}`];
  log(`installing the real Codex CLI: npm ${args.join(' ')}`);
  const npm = spawnSync('npm', args, { stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
  if (npm.status !== 0) throw new Error(`npm install of @openai/codex@${version} failed (exit ${npm.status})`);
  const got = runnableVersion(version);
  if (got !== expected) throw new Error(`${codexBinOf(version)} --version printed ${JSON.stringify(got)}, expected ${JSON.stringify(expected)}`);
  return got;
}

/** Codex 0.169 prints this on every command when CODEX_HOME is under /tmp (as every sandbox is). */
const TMP_ALIAS_WARNING = /^WARNING: proceeding, even though we could not create PATH aliases: .*\n?/gm;

/** Codex's output without the /tmp PATH-alias warning, which says nothing about auth. */
export function withoutTmpWarning(text: string): string {
  return text.replace(TMP_ALIAS_WARNING, '');
}

/**
 * Codex's environment: the sandbox's (a minimal env: PATH, HOME under the sandbox, CODEX_HOME),
 * with HOME created so Codex has somewhere harmless to look. Nothing from the real user leaks in:
 * no OPENAI_API_KEY, CODEX_API_KEY or the real HOME.
 */
export function codexEnv(box: Sandbox, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const home = box.env['HOME']!;
  mkdirSync(home, { recursive: true, mode: 0o700 });
  return { ...box.env, ...extra };
}

export interface CodexResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall-clock time the process ended. */
  endedAt: number;
}

export interface RunningCodex {
  proc: ChildProcess;
  output(): { stdout: string; stderr: string };
  /** SIGTERM to Codex's process group, SIGKILL after 3 s; resolves with how it ended. */
  stop(): Promise<CodexResult>;
  exited: Promise<CodexResult>;
}

/**
 * Starts `codex ARGS` in its own process group (the npm launcher plus the native binary); as
 * another user with `runAs` (setpriv: root only); `version`: an installed one (ensureCodex)
 * other than the pinned one.
 */
export function startCodex(args: string[], env: NodeJS.ProcessEnv, options: { input?: string; cwd?: string; runAs?: { uid: number; gid: number }; version?: string; keepStdin?: boolean } = {}): RunningCodex {
  const { runAs } = options;
  const bin = codexBinOf(options.version ?? CODEX_VERSION);
  const [command, argv] = runAs ? ['setpriv', [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups', bin, ...args]] : [bin, args];
  const proc = spawn(command, argv, { env, cwd: options.cwd ?? env['HOME'], stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CodexResult>((resolve) => {
    proc.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, endedAt: Date.now() }));
  });
  proc.stdin!.on('error', () => undefined);
  // `keepStdin`: the caller writes to it (app-server's requests).
  if (!options.keepStdin) proc.stdin!.end(options.input ?? '');
  const signalGroup = (signal: NodeJS.Signals): void => {
    try {
      process.kill(-proc.pid!, signal);
    } catch {
      // The group is gone already.
    }
  };
  return {
    proc,
    output: () => ({ stdout, stderr }),
    exited,
    stop: async () => {
      signalGroup('SIGTERM');
      const killer = setTimeout(() => signalGroup('SIGKILL'), 3000);
      const result = await exited;
      clearTimeout(killer);
      signalGroup('SIGKILL'); // anything the binary left behind in its group
      return result;
    },
  };
}

/** Runs `codex ARGS` to completion (killed after timeoutMs). */
export async function runCodex(args: string[], env: NodeJS.ProcessEnv, options: { input?: string; timeoutMs?: number; runAs?: { uid: number; gid: number }; version?: string } = {}): Promise<CodexResult> {
  const running = startCodex(args, env, options);
  const timer = setTimeout(() => void running.stop(), options.timeoutMs ?? 30_000);
  const result = await running.exited;
  clearTimeout(timer);
  return result;
}

export interface AppServer {
  /** One request over `codex app-server`'s JSON lines; resolves with its `result`, rejects with its `error`'s message. */
  request(method: string, params?: unknown): Promise<unknown>;
  stop(): Promise<CodexResult>;
}

/**
 * `codex app-server` (stdio, JSON lines), initialized as a client named `codexd-interop`; `version`
 * as for startCodex.
 */
export async function startAppServer(env: NodeJS.ProcessEnv, version?: string): Promise<AppServer> {
  const codex = startCodex(['app-server'], env, { ...(version ? { version } : {}), keepStdin: true });
  const waiting = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  let buffered = '';
  codex.proc.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
      const message = JSON.parse(buffered.slice(0, end)) as { id?: number; result?: unknown; error?: { message: string } };
      buffered = buffered.slice(end + 1);
      const pending = message.id === undefined ? undefined : waiting.get(message.id);
      if (!pending) continue; // a notification
      waiting.delete(message.id!);
      if (message.error) pending.reject(new Error(message.error.message));
      else pending.resolve(message.result);
    }
  });
  void codex.exited.then(({ stderr }) => {
    for (const pending of waiting.values()) pending.reject(new Error(`codex app-server exited: ${withoutTmpWarning(stderr).trim()}`));
  });
  let nextId = 0;
  const send = (message: object): void => void codex.proc.stdin!.write(`${JSON.stringify(message)}\n`);
  const request = (method: string, params: unknown = {}): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      waiting.set(id, { resolve, reject });
      send({ id, method, params });
    });
  await request('initialize', { clientInfo: { name: 'codexd-interop', version: '1.0.0' } });
  send({ method: 'initialized' });
  return { request, stop: () => codex.stop() };
}

// The loopback backend lives with the fake issuer (support/fake-backend.ts), so that the daemon's
// tests and these share one.
export { startFakeBackend, type BackendRequest, type FakeBackend } from '../../support/fake-backend.js';

/**
 * config.toml for a test's CODEX_HOME: `codex exec` talks only to the loopback backend (both the
 * ChatGPT backend and the OpenAI API base), never checks for updates, and never asks anything.
 */
export function writeCodexConfig(codexHome: string, backendUrl: string): void {
  mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  writeFileSync(
    join(codexHome, 'config.toml'),
    [
      '# Written by the codexd interop tests: keep Codex on loopback and non-interactive.',
      'check_for_update_on_startup = false',
      `chatgpt_base_url = "${backendUrl}/backend-api/"`,
      `openai_base_url = "${backendUrl}/v1"`,
      'approval_policy = "never"',
      'sandbox_mode = "read-only"',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
}

export interface AuthFile {
  auth_mode?: string;
  OPENAI_API_KEY: string | null;
  tokens?: { id_token: string; access_token: string; refresh_token: string; account_id: string | null };
  last_refresh?: string;
}

export function readAuthFile(codexHome: string): AuthFile {
  return JSON.parse(readFileSync(join(codexHome, 'auth.json'), 'utf8')) as AuthFile;
}

/** `exp` of a JWT, in ms since the epoch. */
export function jwtExpMs(jwt: string): number {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
  return payload.exp * 1000;
}

export interface AuthSampler {
  /** Stops sampling; every read auth.json must have parsed. */
  stop(): { samples: number; failures: string[]; missing: number };
}

/**
 * Reads and parses auth.json every few milliseconds while two writers share it. A torn or
 * half-written file would show up as a parse failure; an atomic rename never produces one.
 */
export function sampleAuthFile(codexHome: string, everyMs = 5): AuthSampler {
  const file = join(codexHome, 'auth.json');
  let samples = 0;
  let missing = 0;
  const failures: string[] = [];
  const timer = setInterval(() => {
    let raw: string;
    try {
      raw = readFileSync(file, 'utf8');
    } catch {
      missing += 1;
      return;
    }
    samples += 1;
    try {
      JSON.parse(raw);
    } catch (error) {
      failures.push(`${(error as Error).message}: ${JSON.stringify(raw.slice(0, 80))}`);
    }
  }, everyMs);
  return {
    stop: () => {
      clearInterval(timer);
      return { samples, failures, missing };
    },
  };
}

/** Byte-level description of the first difference between two buffers, for a precise report. */
export function firstDifference(expected: Buffer, actual: Buffer): string | null {
  if (expected.equals(actual)) return null;
  const length = Math.min(expected.length, actual.length);
  let at = 0;
  while (at < length && expected[at] === actual[at]) at += 1;
  const around = (buffer: Buffer): string => JSON.stringify(buffer.subarray(Math.max(0, at - 16), at + 16).toString('latin1'));
  return (
    `first difference at byte ${at} (expected ${expected.length} bytes, got ${actual.length}): ` +
    `expected byte ${expected[at] === undefined ? 'EOF' : `0x${expected[at]!.toString(16)}`} in ${around(expected)}, ` +
    `got ${actual[at] === undefined ? 'EOF' : `0x${actual[at]!.toString(16)}`} in ${around(actual)}`
  );
}
