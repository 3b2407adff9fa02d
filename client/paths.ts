// Where things live. Shared by the daemon and its clients so both find the same socket
// without loading the settings library on the client's start-up path.
import { readFileSync } from 'node:fs';
import { homedir, tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

type Env = NodeJS.ProcessEnv;

export function defaultSocketPath(env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return `\\\\.\\pipe\\codexd-${userInfo().username}`;
  const runtime = env['XDG_RUNTIME_DIR'];
  if (runtime) return join(runtime, 'codexd', 'codexd.sock');
  return join(tmpdir(), `codexd-${process.getuid?.() ?? userInfo().uid}`, 'codexd.sock');
}

export function defaultCodexHome(env: Env = process.env): string {
  const home = env['CODEX_HOME'];
  return home ? home : join(homedir(), '.codex');
}

/** The folder of the settings file (`config.json`, managed by the daemon with `conf`). */
export function configDir(env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return join(env['APPDATA'] ?? join(homedir(), 'AppData', 'Roaming'), 'codexd');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'codexd');
  return join(env['XDG_CONFIG_HOME'] || join(homedir(), '.config'), 'codexd');
}

/** The folder for the daemon's log file when it runs detached. */
export function stateDir(env: Env = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return join(env['LOCALAPPDATA'] ?? join(homedir(), 'AppData', 'Local'), 'codexd');
  if (platform === 'darwin') return join(homedir(), 'Library', 'Logs', 'codexd');
  return join(env['XDG_STATE_HOME'] || join(homedir(), '.local', 'state'), 'codexd');
}

export function defaultLogFile(env: Env = process.env): string {
  return join(stateDir(env), 'codexd.log');
}

/**
 * The settings file read as plain JSON. Clients need only `SOCKET` and `NO_AUTOSTART` from it,
 * and reading it directly keeps `conf` (and its schema validator) off their start-up path.
 */
export function readSettingsFile(env: Env = process.env): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(readFileSync(join(configDir(env), 'config.json'), 'utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Socket path by the contract's precedence: flag, then CODEXD_SOCKET, then the settings file, then the default. */
export function resolveSocketPath(flag: string | undefined, env: Env = process.env): string {
  if (flag) return flag;
  if (env['CODEXD_SOCKET']) return env['CODEXD_SOCKET'];
  const fromFile = readSettingsFile(env)['SOCKET'];
  return typeof fromFile === 'string' && fromFile ? fromFile : defaultSocketPath(env);
}

/** sun_path is 108 bytes on Linux and 104 on macOS, including the terminating NUL. */
export function maxSocketPathBytes(platform: NodeJS.Platform = process.platform): number {
  return platform === 'darwin' ? 103 : 107;
}

export function isWindowsPipe(path: string): boolean {
  return path.startsWith('\\\\.\\pipe\\') || path.startsWith('\\\\?\\pipe\\');
}
