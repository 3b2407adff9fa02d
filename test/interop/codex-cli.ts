// The real Codex CLI for the interop tests: installed from the npm registry, pinned, into a cache
// folder outside node_modules, and run with a private CODEX_HOME and HOME so nothing touches the
// real user. Also a loopback stand-in for the model backend, so `codex exec` never leaves the
// machine, and a sampler that proves auth.json parses at every moment two writers share it.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sandbox } from '../helpers.js';

/** The repository (this file is compiled to dist/test/interop/); not imported from helpers.ts, which registers test hooks. */
const root = fileURLToPath(new URL('../../../', import.meta.url));

export const CODEX_VERSION = '0.169.0';
export const codexCache = join(root, '.cache', `codex-${CODEX_VERSION}`);
/** npm's launcher (bin/codex.js), which runs the native binary of the platform package. */
export const codexBin = join(codexCache, 'node_modules', '.bin', 'codex');

function installedVersion(): string | null {
  try {
    const manifest = JSON.parse(readFileSync(join(codexCache, 'node_modules', '@openai', 'codex', 'package.json'), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : null;
  } catch {
    return null;
  }
}

/** `codex --version` of the cached install, or null when it does not run. */
function runnableVersion(): string | null {
  if (!existsSync(codexBin)) return null;
  const result = spawnSync(codexBin, ['--version'], { encoding: 'utf8', env: { PATH: process.env['PATH'] }, timeout: 30_000 });
  return result.status === 0 ? result.stdout.trim() : null;
}

/**
 * Installs @openai/codex@0.169.0 into .cache/codex-0.169.0 unless it is already there and runs.
 * The native binary ships inside the registry package (optional dependency @openai/codex-linux-x64).
 */
export function ensureCodex(log: (line: string) => void = (line) => process.stderr.write(`${line}\n`)): string {
  const expected = `codex-cli ${CODEX_VERSION}`;
  if (installedVersion() === CODEX_VERSION && runnableVersion() === expected) return expected;
  mkdirSync(codexCache, { recursive: true });
  const args = ['install', '--prefix', codexCache, '--no-save', '--no-audit', '--no-fund', `@openai/codex@${CODEX_VERSION}`];
  log(`installing the real Codex CLI: npm ${args.join(' ')}`);
  const npm = spawnSync('npm', args, { stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
  if (npm.status !== 0) throw new Error(`npm install of @openai/codex@${CODEX_VERSION} failed (exit ${npm.status})`);
  const version = runnableVersion();
  if (version !== expected) throw new Error(`${codexBin} --version printed ${JSON.stringify(version)}, expected ${JSON.stringify(expected)}`);
  return version;
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

/** Starts `codex ARGS` in its own process group (the npm launcher plus the native binary); as another user with `runAs` (setpriv: root only). */
export function startCodex(args: string[], env: NodeJS.ProcessEnv, options: { input?: string; cwd?: string; runAs?: { uid: number; gid: number } } = {}): RunningCodex {
  const { runAs } = options;
  const [command, argv] = runAs ? ['setpriv', [`--reuid=${runAs.uid}`, `--regid=${runAs.gid}`, '--clear-groups', codexBin, ...args]] : [codexBin, args];
  const proc = spawn(command, argv, { env, cwd: options.cwd ?? env['HOME'], stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<CodexResult>((resolve) => {
    proc.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, endedAt: Date.now() }));
  });
  proc.stdin!.on('error', () => undefined);
  proc.stdin!.end(options.input ?? '');
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
export async function runCodex(args: string[], env: NodeJS.ProcessEnv, options: { input?: string; timeoutMs?: number; runAs?: { uid: number; gid: number } } = {}): Promise<CodexResult> {
  const running = startCodex(args, env, options);
  const timer = setTimeout(() => void running.stop(), options.timeoutMs ?? 30_000);
  const result = await running.exited;
  clearTimeout(timer);
  return result;
}

export interface BackendRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  accountId: string | undefined;
  userAgent: string | undefined;
}

export interface FakeBackend {
  url: string;
  requests: BackendRequest[];
  /** What every request is answered with: 503 (default), or 401 to make Codex run its 401 recovery. */
  status: 503 | 401;
  /** The bearer tokens Codex sent, without the `Bearer ` prefix. */
  bearerTokens(): string[];
  close(): Promise<void>;
}

/**
 * A loopback stand-in for chatgpt.com/backend-api and api.openai.com/v1: records who called with
 * which bearer token and answers 503 to everything, so Codex fails to reach a model (as it would
 * on a closed network) without any traffic leaving the machine, and without a 401 that would
 * make Codex run its own 401 recovery (a refresh) unless a test sets `status` to 401.
 */
export async function startFakeBackend(): Promise<FakeBackend> {
  const requests: BackendRequest[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        accountId: header(req.headers['chatgpt-account-id']),
        userAgent: req.headers['user-agent'],
      });
      res.writeHead(backend.status, { 'content-type': 'application/json' }).end('{"error":{"message":"interop test backend: no model here"}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const backend: FakeBackend = {
    url,
    requests,
    status: 503,
    bearerTokens: () => [...new Set(requests.map((r) => r.authorization).filter((a): a is string => a?.startsWith('Bearer ') === true).map((a) => a.slice(7)))],
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return backend;
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

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
