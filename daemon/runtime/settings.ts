// The daemon's settings: each from its flag, variable, settings-file value or default, by the
// table in shared/settings.ts (docs/settings.md).
import { isAbsolute, resolve } from 'node:path';
import { defaultCodexHome, defaultSocketPath, readSettingsFile, restrictedSocketPath, settingsFilePath } from '../../shared/paths.js';
import { checkFileValues, checkText, envName, SETTINGS, type IntegerName, type Name } from '../../shared/settings.js';

export interface Settings {
  socket: string;
  /** null = off. */
  restrictedSocket: string | null;
  codexHome: string;
  issuer: string;
  clientId: string;
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
  tickS: number;
  maxConnections: number;
  frameTimeoutMs: number;
  /** The upstream socket of a follower; null = not a follower. */
  upstream: string | null;
  upstreamTimeoutMs: number;
  upstreamRetryMaxMs: number;
  keyringTimeoutMs: number;
  keyringPollMs: number;
  usageCacheS: number;
  /** 0 = off. */
  switchAt: number;
}

export interface DaemonFlags {
  socket?: string | undefined;
  codexHome?: string | undefined;
  logLevel?: string | undefined;
  logFile?: string | undefined;
  upstream?: string | undefined;
}

export async function loadSettings(flags: DaemonFlags, env: NodeJS.ProcessEnv = process.env): Promise<Settings> {
  // Read once for the whole process (shared/paths.ts keeps it), checked by the settings table.
  const file = checkFileValues(readSettingsFile(env), settingsFilePath(env));
  /** The flag, else the variable, else the file's value; undefined when none is set. */
  const pick = (name: Name, flag?: { value: string | undefined; where: string }): string | number | undefined => {
    if (flag?.value !== undefined) return checkText(name, flag.value, flag.where);
    const fromEnv = env[envName(name)];
    if (fromEnv !== undefined && fromEnv !== '') return checkText(name, fromEnv, envName(name));
    const fromFile = file[name];
    return fromFile === undefined || fromFile === null ? undefined : (fromFile as string | number);
  };
  const int = (name: IntegerName): number => (pick(name) as number | undefined) ?? SETTINGS[name].default;
  const text = (name: Name, flag?: { value: string | undefined; where: string }): string | undefined => pick(name, flag) as string | undefined;
  const path = (value: string): string => (isAbsolute(value) ? value : resolve(value));

  const upstream = text('UPSTREAM', { value: flags.upstream, where: '--upstream' });
  const codexHome = path(text('CODEX_HOME', { value: flags.codexHome, where: '--codex-home' }) ?? defaultCodexHome({}));
  const socket = path(text('SOCKET', { value: flags.socket, where: '--socket' }) ?? defaultSocketPath(env, process.platform, codexHome));
  return {
    socket,
    restrictedSocket: restrictedSocketPath(socket, text('RESTRICTED_SOCKET')),
    codexHome,
    issuer: (text('ISSUER') ?? SETTINGS.ISSUER.default).replace(/\/+$/, ''),
    clientId: text('CLIENT_ID') ?? SETTINGS.CLIENT_ID.default,
    loginPort: int('LOGIN_PORT'),
    refreshMarginS: int('REFRESH_MARGIN_S'),
    logLevel: text('LOG_LEVEL', { value: flags.logLevel, where: '--log-level' }) ?? SETTINGS.LOG_LEVEL.default,
    logFile: flags.logFile ? path(flags.logFile) : null,
    loginTimeoutS: int('LOGIN_TIMEOUT_S'),
    deviceCodeTimeoutS: int('DEVICE_CODE_TIMEOUT_S'),
    httpTimeoutS: int('HTTP_TIMEOUT_S'),
    refreshBackoffBaseMs: int('REFRESH_BACKOFF_BASE_MS'),
    refreshBackoffMaxMs: int('REFRESH_BACKOFF_MAX_MS'),
    tickS: int('TICK_S'),
    maxConnections: int('MAX_CONNECTIONS'),
    frameTimeoutMs: int('FRAME_TIMEOUT_MS'),
    upstream: upstream === undefined ? null : path(upstream),
    upstreamTimeoutMs: int('UPSTREAM_TIMEOUT_MS'),
    upstreamRetryMaxMs: int('UPSTREAM_RETRY_MAX_MS'),
    keyringTimeoutMs: int('KEYRING_TIMEOUT_MS'),
    keyringPollMs: int('KEYRING_POLL_MS'),
    usageCacheS: int('USAGE_CACHE_S'),
    switchAt: int('SWITCH_AT'),
  };
}
