// Where things live. Shared by the daemon and its clients so both find the same socket
// without loading the settings library on the client's start-up path.
import { lstatSync, realpathSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { readTextSync } from './bounded-read.js';
import { SettingsError } from './errors.js';
import { sha256Hex } from './sha256.js';

type Env = NodeJS.ProcessEnv;

/**
 * A short, stable name for a CODEX_HOME: the first 16 hex digits of the sha256 of its canonical
 * path (Codex keys its keyring entry the same way). Daemons for different homes get their own
 * socket, lock and log file.
 */
export function codexHomeKey(codexHome: string): string {
  return sha256Hex(canonicalHome(codexHome)).slice(0, 16);
}

function canonicalHome(codexHome: string): string {
  try {
    return realpathSync(codexHome);
  } catch {
    return resolve(codexHome);
  }
}

/** Whether two paths name the same CODEX_HOME (the same key), without hashing. */
export function sameCodexHome(a: string, b: string): boolean {
  return canonicalHome(a) === canonicalHome(b);
}

/**
 * The socket of the daemon for `codexHome`: `codexd.sock` for the default home (~/.codex),
 * `codexd-<key>.sock` beside it for any other, so each home gets a daemon of its own.
 */
export function defaultSocketPath(env: Env = process.env, platform: NodeJS.Platform = process.platform, codexHome = resolveCodexHome(env)): string {
  const suffix = sameCodexHome(codexHome, defaultCodexHome({})) ? '' : `-${codexHomeKey(codexHome)}`;
  if (platform === 'win32') return `\\\\.\\pipe\\codexd-${userInfo().username}${suffix}`;
  const runtime = env['XDG_RUNTIME_DIR'];
  if (runtime) return join(runtime, 'codexd', `codexd${suffix}.sock`);
  return join(tmpdir(), `codexd-${process.getuid?.() ?? userInfo().uid}`, `codexd${suffix}.sock`);
}

/**
 * Where a follower's upstream socket is forwarded to by convention: `upstream.sock` beside the
 * default socket (`$XDG_RUNTIME_DIR/codexd/upstream.sock`; docs/remote.md).
 */
export function defaultUpstreamPath(env: Env = process.env): string {
  return join(dirname(defaultSocketPath(env)), 'upstream.sock');
}

/**
 * The refresh token in a follower's auth.json (daemon/follower/follower.ts): the real one never leaves the
 * upstream machine. Codex 0.169 sends whatever is there when it refreshes (within 5 minutes of
 * expiry, or after a 401) and stops at the issuer's refusal with "Your access token could not be
 * refreshed. Please log out and sign in again." An empty string fails the same way, but then
 * `codex logout` revokes the access token instead, which is the upstream's own; this marker is
 * all it can revoke (docs/remote.md).
 */
export const FOLLOWER_REFRESH_TOKEN = 'codexd-follower:no-refresh-token';

/**
 * When autostart starts a follower: a socket at the conventional upstream path, and no login of
 * this home's own (no auth.json, or only a follower's mirror). Returns the upstream path, or null.
 */
export function conventionalUpstream(codexHome: string, env: Env = process.env): string | null {
  const upstream = defaultUpstreamPath(env);
  try {
    if (!lstatSync(upstream).isSocket()) return null;
  } catch {
    return null;
  }
  try {
    const text = readTextSync(join(codexHome, 'auth.json'));
    if (text === null) return upstream;
    const auth = JSON.parse(text) as { tokens?: { refresh_token?: unknown } } | null;
    return auth?.tokens?.refresh_token === FOLLOWER_REFRESH_TOKEN ? upstream : null;
  } catch {
    return null;
  }
}

export function defaultCodexHome(env: Env = process.env): string {
  const home = env['CODEX_HOME'];
  return home ? home : join(homedir(), '.codex');
}

/** CODEX_HOME as the daemon resolves it: the variable, then the settings file, then ~/.codex. */
export function resolveCodexHome(env: Env = process.env): string {
  return resolve(env['CODEX_HOME'] || settingString(readSettingsFile(env), 'CODEX_HOME') || defaultCodexHome({}));
}

/**
 * The single-instance lock of the daemon for `codexHome`. It lives in the default socket's
 * folder, which the user can always write (CODEX_HOME may be read-only), and is keyed by the home,
 * so two daemons for one home collide whatever sockets they were given.
 */
export function daemonLockPath(codexHome: string, env: Env = process.env): string {
  return join(runtimeDir(env), `codexd-${codexHomeKey(codexHome)}.lock`);
}

/**
 * The folder of the daemon's lock files: the default socket's folder, or on Windows, where the
 * socket is a named pipe and has no folder, %LOCALAPPDATA%\codexd (inside the user's profile).
 */
export function runtimeDir(env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? stateDir(env, platform) : dirname(defaultSocketPath(env, platform));
}

/**
 * A lock file that belongs to the socket `socketPath` (`<socket>.<kind>.lock` beside it); for a
 * named pipe, `<pipe name>.<kind>.lock` in the runtime folder.
 */
export function socketLockPath(socketPath: string, kind: 'bind' | 'spawn', env: Env = process.env): string {
  if (!isWindowsPipe(socketPath)) return kind === 'bind' ? `${socketPath}.lock` : `${socketPath}.spawn.lock`;
  const name = socketPath.slice('\\\\.\\pipe\\'.length).replace(/[^A-Za-z0-9._-]/g, '_');
  return join(runtimeDir(env, 'win32'), `${name}.${kind}.lock`);
}

/**
 * The single-instance lock that lives with the home, so that daemons started with different
 * runtime folders (cron, su, ssh) still meet: `$CODEX_HOME/codexd/daemon.lock`, beside the account
 * files. Taken besides daemonLockPath's (daemon/runtime/home-lock.ts).
 */
export function homeLockPath(codexHome: string): string {
  return join(codexHome, 'codexd', 'daemon.lock');
}

/** The folder of the settings file (`config.json`, managed by the daemon with `conf`). */
export function configDir(env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return join(env['APPDATA'] ?? join(homedir(), 'AppData', 'Roaming'), 'codexd');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'codexd');
  return join(env['XDG_CONFIG_HOME'] || join(homedir(), '.config'), 'codexd');
}

/** The folder for what can be made again: the code caches of codex-auth (shared/code-cache.ts). */
export function cacheDir(env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return join(env['LOCALAPPDATA'] ?? join(homedir(), 'AppData', 'Local'), 'codexd', 'cache');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Caches', 'codexd');
  // $HOME first, as homedir() reads it: node:os stays out of `codex-auth token`.
  return join(env['XDG_CACHE_HOME'] || join(env['HOME'] || homedir(), '.cache'), 'codexd');
}

/** The folder for the daemon's log file when it runs detached. */
export function stateDir(env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return join(env['LOCALAPPDATA'] ?? join(homedir(), 'AppData', 'Local'), 'codexd');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Logs', 'codexd');
  return join(env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state'), 'codexd');
}

/** The detached daemon's log: `codexd.log` for the default CODEX_HOME, `codexd-<key>.log` for any other. */
export function defaultLogFile(env: Env = process.env, codexHome = resolveCodexHome(env)): string {
  const key = codexHomeKey(codexHome);
  return join(stateDir(env), key === codexHomeKey(defaultCodexHome({})) ? 'codexd.log' : `codexd-${key}.log`);
}

export function settingsFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'config.json');
}

/** The settings file of each path this process has read: it is read once (the daemon takes a change at its next start). */
const settingsFiles = new Map<string, Record<string, unknown>>();

/**
 * The settings file as plain JSON; {} when there is none. A file that is not a JSON object is
 * an error for every process alike (the daemon does not start, the CLI exits 2). Read once per
 * process: every later call gets what the first one read.
 */
export function readSettingsFile(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  const file = settingsFilePath(env);
  let settings = settingsFiles.get(file);
  if (!settings) {
    settings = parseSettingsFile(file);
    settingsFiles.set(file, settings);
  }
  return settings;
}

function parseSettingsFile(file: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    const text = readTextSync(file, { name: 'it' });
    if (text === null) return {};
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SettingsError(`settings file ${file} is unreadable: ${(error as Error).message}; fix or remove it`);
  }
  if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  throw new SettingsError(`settings file ${file} is unreadable: it does not hold a JSON object; fix or remove it`);
}

function settingString(file: Record<string, unknown>, name: string): string | undefined {
  const value = file[name];
  return typeof value === 'string' && value ? value : undefined;
}

/** Socket path by the precedence in docs/settings.md: flag, then CODEXD_SOCKET, then the settings file, then the default for the home. */
export function resolveSocketPath(flag: string | undefined, env: Env = process.env): string {
  return flag || env['CODEXD_SOCKET'] || settingString(readSettingsFile(env), 'SOCKET') || defaultSocketPath(env);
}

/** The Codex executable `codex-auth app-server` runs: flag, then CODEXD_CODEX, then the settings file, then `codex` on PATH. */
export function resolveCodexExecutable(flag: string | undefined, env: Env = process.env): string {
  return flag || env['CODEXD_CODEX'] || settingString(readSettingsFile(env), 'CODEX') || 'codex';
}

/** The value of CODEXD_RESTRICTED_SOCKET that turns the restricted socket off. */
export const RESTRICTED_OFF = 'off';

/**
 * The restricted socket's default: beside the main socket, named after it (`codexd.sock` gives
 * `codexd.restricted.sock`, `codexd-<key>.sock` gives `codexd-<key>.restricted.sock`).
 */
export function defaultRestrictedSocketPath(socket: string): string {
  if (isWindowsPipe(socket)) return `${socket}-restricted`;
  return socket.endsWith('.sock') ? `${socket.slice(0, -'.sock'.length)}.restricted.sock` : `${socket}.restricted`;
}

/** The restricted socket for the main socket `socket`, given the RESTRICTED_SOCKET setting (unset: the default); null when it is `off`. */
export function restrictedSocketPath(socket: string, setting: string | undefined): string | null {
  if (setting === RESTRICTED_OFF) return null;
  return setting ? resolve(setting) : defaultRestrictedSocketPath(socket);
}

/** The client's view, by the precedence in docs/settings.md: CODEXD_RESTRICTED_SOCKET, then the settings file, then the default beside `socket`. */
export function resolveRestrictedSocketPath(socket: string, env: Env = process.env): string | null {
  return restrictedSocketPath(socket, env['CODEXD_RESTRICTED_SOCKET'] || settingString(readSettingsFile(env), 'RESTRICTED_SOCKET'));
}

/**
 * What this client expects the daemon to serve: each value its environment (or, below that, the
 * settings file) sets. A value set nowhere matches whatever the daemon serves, so an editor
 * started without CODEX_HOME in its environment still uses the daemon it is pointed at.
 */
export interface ExpectedDaemon {
  codexHome?: string;
  issuer?: string;
  clientId?: string;
}

export function expectedDaemon(env: Env = process.env): ExpectedDaemon {
  const file = readSettingsFile(env);
  const pick = (name: string, envName = `CODEXD_${name}`): string | undefined => env[envName] || settingString(file, name);
  const codexHome = pick('CODEX_HOME', 'CODEX_HOME');
  const issuer = pick('ISSUER');
  const clientId = pick('CLIENT_ID');
  return {
    ...(codexHome ? { codexHome: resolve(codexHome) } : {}),
    ...(issuer ? { issuer: issuer.replace(/\/+$/, '') } : {}),
    ...(clientId ? { clientId } : {}),
  };
}

/** sun_path is 108 bytes on Linux and 104 on macOS, including the terminating NUL. */
export function maxSocketPathBytes(platform: NodeJS.Platform = process.platform): number {
  return platform === 'darwin' ? 103 : 107;
}

export function isWindowsPipe(path: string): boolean {
  return path.startsWith('\\\\.\\pipe\\') || path.startsWith('\\\\?\\pipe\\');
}
