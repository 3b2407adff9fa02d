// Starting the daemon on demand, the way gpg-agent's clients do: connect; on failure take a
// spawn lock, connect again (someone else may have just started it), and only then spawn and
// wait. Ten clients racing on a fresh socket end with exactly one daemon.
import { existsSync, mkdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { DaemonUnreachableError } from '../shared/errors.js';
import { lock } from '../shared/os.js';
import { conventionalUpstream, defaultCodexHome, defaultLogFile, defaultSocketPath, isWindowsPipe, readSettingsFile, resolveCodexHome, runtimeDir, socketLockPath } from '../shared/paths.js';
import { openTrusted, transportFor } from '../shared/transports.js';
import { setTimeout as sleep } from 'node:timers/promises';

export { DaemonUnreachableError };

export const AUTOSTART_WAIT_MS = 5000;

/**
 * Node flags for the daemon's node process; the systemd unit passes the same. One V8 worker thread
 * instead of four (the optimizing compiler and the GC's concurrent work) leaves one malloc heap to
 * hold what a burst frees instead of four, about 1 MiB less (docs/performance.md), without
 * changing throughput measurably. No V8 flag: the daemon sets its own once it serves
 * (daemon/bin.ts), since one on the command line keeps Node's modules from their built-in cache.
 */
export const DAEMON_NODE_FLAGS = ['--v8-pool-size=1'];

export function autostartDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  const setting = env['CODEXD_NO_AUTOSTART'] ?? readSettingsFile(env)['NO_AUTOSTART'];
  return setting === '1' || setting === 1 || setting === true || setting === 'true';
}

/**
 * When the user installed and enabled codexd.socket, systemd owns the default socket: it starts
 * the daemon on the first connection. Spawning one ourselves as well would race systemd for the
 * path — the race that made gpg-agent drop its units — so autostart stands aside. A unit file
 * that was never enabled (`sockets.target.wants/` has no link to it) owns nothing.
 */
export function systemdOwnsSocket(socketPath: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux' || socketPath !== defaultSocketPath(env, 'linux', defaultCodexHome({})) || !env['XDG_RUNTIME_DIR']) return false;
  const unit = systemdSocketUnitPath(env);
  return existsSync(unit) && existsSync(join(dirname(unit), 'sockets.target.wants', basename(unit)));
}

/** Where `codex-auth service install` puts the socket unit. */
export function systemdSocketUnitPath(env: NodeJS.ProcessEnv = process.env): string {
  const config = env['XDG_CONFIG_HOME'];
  const configHome = config && isAbsolute(config) ? config : join(env['HOME'] || homedir(), '.config');
  return join(configHome, 'systemd', 'user', 'codexd.socket');
}

/**
 * `--upstream` when the daemon should follow the conventional forwarded socket: no upstream is
 * set (the daemon reads a set one itself) and this home has no login of its own.
 */
function followerArgs(env: NodeJS.ProcessEnv): string[] {
  if (env['CODEXD_UPSTREAM'] || readSettingsFile(env)['UPSTREAM']) return [];
  const upstream = conventionalUpstream(resolveCodexHome(env), env);
  return upstream ? ['--upstream', upstream] : [];
}

const daemonMain = join(import.meta.dirname, '..', 'daemon', 'codexd.cjs');

async function waitForSocket(path: string, deadline: number, exited: () => string | null): Promise<Socket> {
  for (;;) {
    try {
      return await openTrusted(path);
    } catch (error) {
      if (error instanceof DaemonUnreachableError) throw error;
      const exit = exited();
      if (exit) throw new DaemonUnreachableError(exit);
      if (Date.now() >= deadline) {
        throw new DaemonUnreachableError(`codexd did not answer on ${path} within ${AUTOSTART_WAIT_MS / 1000} s (${(error as Error).message}); see ${defaultLogFile()}`);
      }
      await sleep(25);
    }
  }
}

/** Connects to the daemon, starting it first when nothing answers and autostart is allowed. */
export async function connectOrStart(socketPath: string, autostart: boolean, env: NodeJS.ProcessEnv = process.env): Promise<Socket> {
  try {
    return await openTrusted(socketPath);
  } catch (error) {
    if (error instanceof DaemonUnreachableError) throw error;
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    if (!autostart || autostartDisabled(env)) {
      throw new DaemonUnreachableError(`codexd is not running on ${socketPath} (${reason}) and autostart is off; start it with \`codex-auth daemon start\``);
    }
    if (systemdOwnsSocket(socketPath, env)) {
      throw new DaemonUnreachableError(`codexd.socket is installed but nothing listens on ${socketPath} (${reason}); run \`systemctl --user enable --now codexd.socket\``);
    }
  }
  try {
    return await start(socketPath, env);
  } catch (error) {
    if (error instanceof DaemonUnreachableError) throw error;
    throw new DaemonUnreachableError(`cannot start codexd on ${socketPath}: ${(error as Error).message}`);
  }
}

/** This client, as the daemon it starts names it (no arguments: they could hold a key): "codex-auth (pid 4242)". */
function thisClient(): string {
  const program = basename(process.argv[1] ?? process.argv0).replace(/\.[cm]?js$/, '');
  return `${program} (pid ${process.pid})`;
}

async function start(socketPath: string, env: NodeJS.ProcessEnv): Promise<Socket> {
  const transport = transportFor(socketPath);
  transport.prepare(socketPath);
  transport.check(socketPath); // whoever created the folder, it must pass before we put a lock file in it
  if (isWindowsPipe(socketPath)) mkdirSync(runtimeDir(env), { recursive: true }); // a pipe has no folder: its locks live there
  const spawnLock = await lock(socketLockPath(socketPath, 'spawn', env), AUTOSTART_WAIT_MS * 2);
  try {
    try {
      return await openTrusted(socketPath);
    } catch (error) {
      if (error instanceof DaemonUnreachableError) throw error;
      // Still nobody: we are the one to start it.
    }
    // Loaded here, not at start-up: only a client that actually starts the daemon needs it.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, daemonMain, '--socket', socketPath, '--log-file', defaultLogFile(env), '--autostarted', '--started-by', thisClient(), ...followerArgs(env)], {
      detached: true,
      // Windows: no console window for the daemon (detached would otherwise open one).
      windowsHide: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env,
    });
    // Its stderr is read until it is ready, so that a failed start says why in the daemon's own
    // words (a bad setting, say); then the pipe is let go and the daemon is fully detached.
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    let exit: string | null = null;
    child.once('close', (code, signal) => {
      const reason = stderr.trim().split('\n').pop()?.replace(/^codexd: /, '');
      exit = reason ? `codexd could not start: ${reason}` : `codexd exited during start-up (${signal ? `signal ${signal}` : `exit status ${code}`}); see ${defaultLogFile(env)}`;
    });
    child.once('error', (spawnError) => (exit = `codexd could not be started: ${spawnError.message}`));
    child.unref();
    try {
      return await waitForSocket(socketPath, Date.now() + AUTOSTART_WAIT_MS, () => exit);
    } finally {
      child.stderr!.destroy();
    }
  } finally {
    spawnLock.release();
  }
}
