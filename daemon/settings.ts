// Daemon settings. Precedence ("Settings" in the README): command-line flag, then environment variable, then
// the settings file (`config.json` in the config folder, read with `conf`), then the default.
// In the file, keys are the variable names without the `CODEXD_` prefix (`LOGIN_PORT`, …).
import { isAbsolute, resolve } from 'node:path';
import Conf from 'conf';
import { configDir, defaultCodexHome, defaultSocketPath } from '../client/paths.js';

export const DEFAULT_ISSUER = 'https://auth.openai.com';
export const DEFAULT_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann';

export interface Settings {
  socket: string;
  codexHome: string;
  issuer: string;
  clientId: string;
  /** 0 = any free port. */
  loginPort: number;
  refreshMarginS: number;
  logLevel: string;
  /** null = stderr. */
  logFile: string | null;
  loginTimeoutS: number;
  deviceCodeTimeoutS: number;
  httpTimeoutS: number;
  refreshBackoffBaseMs: number;
  refreshBackoffMaxMs: number;
  /** How often wall-clock time is compared with the refresh schedule (catches laptop sleep). */
  tickS: number;
  maxConnections: number;
  frameTimeoutMs: number;
}

export interface Flags {
  socket?: string | undefined;
  codexHome?: string | undefined;
  logLevel?: string | undefined;
  logFile?: string | undefined;
}

type Source = (name: string) => string | undefined;

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

export class SettingsError extends Error {
  override name = 'SettingsError';
}

function readFile(env: NodeJS.ProcessEnv): Source {
  let store: Record<string, unknown>;
  try {
    store = new Conf<Record<string, unknown>>({ cwd: configDir(env), configName: 'config', projectSuffix: '', configFileMode: 0o600 }).store;
  } catch (error) {
    throw new SettingsError(`settings file in ${configDir(env)} is unreadable: ${(error as Error).message}`);
  }
  return (name) => {
    const value = store[name];
    return value === undefined || value === null ? undefined : String(value);
  };
}

export function loadSettings(flags: Flags, env: NodeJS.ProcessEnv = process.env): Settings {
  const file = readFile(env);
  /** Env var `CODEXD_<NAME>` (or `name` itself when it has no prefix), then the file's `<NAME>`. */
  const pick = (name: string, envName = `CODEXD_${name}`): string | undefined => {
    const fromEnv = env[envName];
    return fromEnv !== undefined && fromEnv !== '' ? fromEnv : file(name);
  };
  const int = (name: string, fallback: number, min: number): number => {
    const raw = pick(name);
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) {
      throw new SettingsError(`${name} must be an integer >= ${min}, got "${raw}"`);
    }
    return value;
  };
  const path = (value: string): string => (isAbsolute(value) ? value : resolve(value));

  const logLevel = flags.logLevel ?? pick('LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.has(logLevel)) throw new SettingsError(`unknown log level "${logLevel}"`);
  const issuer = (pick('ISSUER') ?? DEFAULT_ISSUER).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]/.test(issuer)) throw new SettingsError(`ISSUER must be an http(s) URL, got "${issuer}"`);
  const loginPort = int('LOGIN_PORT', 1455, 0);
  if (loginPort > 65535) throw new SettingsError(`LOGIN_PORT must be a port number, got ${loginPort}`);

  const codexHome = path(flags.codexHome ?? pick('CODEX_HOME', 'CODEX_HOME') ?? defaultCodexHome({}));
  return {
    socket: path(flags.socket ?? pick('SOCKET') ?? defaultSocketPath(env, process.platform, codexHome)),
    codexHome,
    issuer,
    clientId: pick('CLIENT_ID') ?? DEFAULT_CLIENT_ID,
    loginPort,
    refreshMarginS: int('REFRESH_MARGIN_S', 600, 0),
    logLevel,
    logFile: flags.logFile ? path(flags.logFile) : null,
    loginTimeoutS: int('LOGIN_TIMEOUT_S', 600, 1),
    deviceCodeTimeoutS: int('DEVICE_CODE_TIMEOUT_S', 900, 1),
    httpTimeoutS: int('HTTP_TIMEOUT_S', 30, 1),
    refreshBackoffBaseMs: int('REFRESH_BACKOFF_BASE_MS', 1000, 1),
    refreshBackoffMaxMs: int('REFRESH_BACKOFF_MAX_MS', 300_000, 1),
    tickS: int('TICK_S', 30, 1),
    maxConnections: int('MAX_CONNECTIONS', 512, 1),
    frameTimeoutMs: int('FRAME_TIMEOUT_MS', 10_000, 0),
  };
}
