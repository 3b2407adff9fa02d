// What `codex-auth service` shares between systemd and launchd: the options, running a command
// without a shell, and writing or removing the files it installs.
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultRestrictedSocketPath, defaultSocketPath, resolveRestrictedSocketPath, resolveSocketPath, sameCodexHome } from '../../shared/paths.js';

export interface ServiceOptions {
  dryRun: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
}

// Paths of this install, relative to the compiled dist/client/cli/service-files.js.
export const DAEMON_MAIN = fileURLToPath(new URL('../../daemon/codexd.cjs', import.meta.url));

export const PROBE_TIMEOUT_MS = 5_000;
export const COMMAND_TIMEOUT_MS = 30_000;

export type Env = NodeJS.ProcessEnv;
export type Io = Required<ServiceOptions>;

export interface Desired {
  path: string;
  content: string;
}

export function io(opts: ServiceOptions): Io {
  return { ...opts, env: opts.env ?? process.env, platform: opts.platform ?? process.platform };
}

export function home(env: Env): string {
  return env['HOME'] || homedir();
}

export interface RunResult {
  ok: boolean;
  /** Why it failed, one line: exit status and the first line of stderr, or the spawn error. */
  why: string;
}

export function runCommand(file: string, args: string[], env: Env, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: timeoutMs, windowsHide: true }, (error, _stdout, stderr) => {
      if (!error) return resolve({ ok: true, why: '' });
      const firstLine = String(stderr).trim().split('\n')[0] ?? '';
      let why: string;
      if (error.killed) why = `timed out after ${timeoutMs / 1000} s`;
      else if (typeof error.code === 'number') why = `exit status ${error.code}`;
      else why = error.message;
      resolve({ ok: false, why: firstLine ? `${why}: ${firstLine}` : why });
    });
  });
}

export function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Writes each file whose content differs, printing what it did. Missing folders are created 0700
 * in the mkdir call itself; the files are 0644 like any unit file: they hold paths, no secrets.
 * Returns whether anything changed (or would, in a dry run).
 */
export function syncFiles(files: Desired[], o: Io): boolean {
  let changed = false;
  for (const file of files) {
    if (readOrNull(file.path) === file.content) {
      o.out(`unchanged: ${file.path}`);
      continue;
    }
    changed = true;
    if (o.dryRun) {
      o.out(`would write: ${file.path}`);
      continue;
    }
    mkdirSync(dirname(file.path), { recursive: true, mode: 0o700 });
    const temp = `${file.path}.${process.pid}.tmp`;
    writeFileSync(temp, file.content, { mode: 0o644 });
    renameSync(temp, file.path);
    o.out(`wrote: ${file.path}`);
  }
  return changed;
}

/** Removes each existing file (or symlink), printing what it did. Returns whether any was there. */
export function removeFiles(paths: string[], o: Io): boolean {
  let any = false;
  for (const path of paths) {
    if (!lexists(path)) {
      o.out(`absent: ${path}`);
      continue;
    }
    any = true;
    if (o.dryRun) {
      o.out(`would remove: ${path}`);
      continue;
    }
    unlinkSync(path);
    o.out(`removed: ${path}`);
  }
  return any;
}

export function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** ~/.codex must exist before the sandboxed service starts (it cannot create it there); notes on settings the units ignore. */
export function prepareForService(o: Io): void {
  const codexHome = join(home(o.env), '.codex');
  if (!existsSync(codexHome)) {
    if (o.dryRun) o.out(`would create: ${codexHome}`);
    else {
      mkdirSync(codexHome, { recursive: true, mode: 0o700 });
      o.out(`created: ${codexHome}`);
    }
  }
  const custom = o.env['CODEX_HOME'];
  if (custom && !sameCodexHome(custom, codexHome)) {
    o.out(`note: CODEX_HOME is ${custom}, but the service serves ${codexHome}; clients with this CODEX_HOME start a daemon of their own for it`);
  }
  const socket = resolveSocketPath(undefined, { ...o.env, CODEX_HOME: '' });
  const unitSocket = defaultSocketPath(o.env, 'linux', codexHome);
  if (o.env['XDG_RUNTIME_DIR'] && socket !== unitSocket) {
    o.out(`note: clients are set to use the socket ${socket}, but codexd.socket listens on ${unitSocket}`);
  }
  const restricted = resolveRestrictedSocketPath(unitSocket, o.env);
  const unitRestricted = defaultRestrictedSocketPath(unitSocket);
  if (restricted === null) {
    o.out(`note: the restricted socket is off in your settings, and codexd will not serve it; stop systemd listening on ${unitRestricted} too: systemctl --user disable --now codexd-restricted.socket`);
  } else if (o.env['XDG_RUNTIME_DIR'] && restricted !== unitRestricted) {
    o.out(`note: the restricted socket is set to ${restricted}, but codexd-restricted.socket listens on ${unitRestricted}`);
  }
}
