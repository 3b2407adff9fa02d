// What doctor knows before it checks anything: where things are for this shell, and what the
// daemon on the socket says about itself, asked without ever starting one.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonUnreachableError } from '../../autostart.js';
import { openDaemon } from '../../connect.js';
import { NoAnswer } from '../../../shared/errors.js';
import { expectedDaemon, readSettingsFile, resolveCodexHome, resolveSocketPath, type ExpectedDaemon } from '../../../shared/paths.js';
import { Requests, type DaemonStatus, type InitializeResult, type ReadResult } from '../../../shared/protocol.js';

export interface DaemonAnswer {
  init: InitializeResult;
  /** null on a socket that keeps the daemon's own status to itself (the restricted one). */
  daemon: DaemonStatus | null;
  /** null when the daemon would not say (an older or a broken one). */
  status: ReadResult | null;
}

export interface DoctorContext {
  env: NodeJS.ProcessEnv;
  codexHome: string;
  socket: string;
  expected: ExpectedDaemon;
  /** What the daemon answered, or why nothing did. */
  /** What the daemon answered, or why nothing did (`silent`: something accepted the connection and never answered). */
  answer: DaemonAnswer | { unreachable: string; silent: boolean };
  /** Settings the user set in the settings file (keys without the CODEXD_ prefix). */
  settings: Record<string, unknown>;
}

const NO_ANSWER_MS = 3_000;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DaemonUnreachableError(`${what} did not answer within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function askDaemon(socket: string): Promise<DoctorContext['answer']> {
  // Any daemon on the socket, of any version: whether it serves this home and is this CLI's
  // version are checks of their own. Never started, never asked to exit.
  try {
    const { connection, served } = await withTimeout(openDaemon(socket, { autostart: false, expect: {}, anyVersion: true }), NO_ANSWER_MS, `codexd on ${socket}`);
    try {
      const [daemon, status] = await Promise.all([
        connection.request(Requests.daemonStatus, {}, NO_ANSWER_MS).catch(() => null),
        connection.request(Requests.accountRead, {}, NO_ANSWER_MS).catch(() => null),
      ]);
      return { init: served, daemon, status };
    } finally {
      connection.close();
    }
  } catch (error) {
    return { unreachable: (error as Error).message, silent: error instanceof NoAnswer || (error as Error).message.includes('did not answer') };
  }
}

export async function gatherContext(socketFlag: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<DoctorContext> {
  const socket = resolveSocketPath(socketFlag, env);
  let settings: Record<string, unknown> = {};
  try {
    settings = readSettingsFile(env);
  } catch {
    // A broken settings file is reported by the daemon check; the rest still runs.
  }
  return { env, codexHome: resolveCodexHome(env), socket, expected: expectedDaemon(env), answer: await askDaemon(socket), settings };
}

export function answered(context: DoctorContext): DaemonAnswer | null {
  return 'init' in context.answer ? context.answer : null;
}

/** A running process's environment (only our own processes' are readable), or null. */
export function environOf(pid: number): NodeJS.ProcessEnv | null {
  try {
    const env: NodeJS.ProcessEnv = {};
    for (const entry of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  } catch {
    return null;
  }
}

/** `cli_auth_credentials_store` and `chatgpt_base_url` from config.toml, read as Codex reads them (top-level keys). */
export async function codexConfig(codexHome: string): Promise<{ store: string; baseUrl: string; problem: string | null }> {
  const fallback = { store: 'file', baseUrl: 'https://chatgpt.com/backend-api/', problem: null };
  const path = join(codexHome, 'config.toml');
  if (!existsSync(path)) return fallback;
  try {
    const { parse } = await import('smol-toml');
    const config = parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    const store = typeof config['cli_auth_credentials_store'] === 'string' ? config['cli_auth_credentials_store'] : fallback.store;
    const baseUrl = typeof config['chatgpt_base_url'] === 'string' ? config['chatgpt_base_url'] : fallback.baseUrl;
    return { store, baseUrl, problem: null };
  } catch (error) {
    return { ...fallback, problem: `${path} cannot be read: ${(error as Error).message}` };
  }
}
