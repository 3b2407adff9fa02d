// Codex's keyring entry, reached through a child process (daemon/keyring/helper.ts) that codexd
// starts on the first keyring call and kills when a call outlives its timeout: a native call that
// never returns (openai/codex#41031, a locked keyring) then costs neither the event loop nor a
// libuv thread, so every other client is served meanwhile. File-only users never start it.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { codexHomeKey } from '../../shared/paths.js';
import type { KeyringReply, KeyringRequest } from './helper.js';

/** The service Codex stores its login under. */
export const KEYRING_SERVICE = 'Codex Auth';

/** Codex's account name for a CODEX_HOME: `cli|` and the home's key (sha256 of its canonical path). */
export function keyringAccount(codexHome: string): string {
  return `cli|${codexHomeKey(codexHome)}`;
}

const ADVICE = 'unlock the OS keyring (on Linux a Secret Service such as gnome-keyring must be running and unlocked), or set cli_auth_credentials_store = "file" in config.toml';

/**
 * What a failed keyring call says. The daemon keeps the environment of whoever started it (cron,
 * ssh or su have no session bus): on Linux without DBUS_SESSION_BUS_ADDRESS the Secret Service
 * cannot be found, whatever the user's own shell has, so that is the cause to name.
 */
export function keyringFailure(what: string, startedBy: string, env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform !== 'linux' || env['DBUS_SESSION_BUS_ADDRESS']) return `${what}: ${ADVICE}.`;
  return (
    `The OS keyring cannot be reached: codexd has no session bus address (DBUS_SESSION_BUS_ADDRESS is unset in the environment it got from ${startedBy}; ${what}). ` +
    'Run `codex-auth daemon stop`, then any codex-auth command from a shell of your desktop session, which starts codexd again with its address ' +
    '(under systemd: `systemctl --user import-environment DBUS_SESSION_BUS_ADDRESS`, then `systemctl --user restart codexd.service`), or set cli_auth_credentials_store = "file" in config.toml.'
  );
}

/** The keyring could not be reached or refused; the message says why and what to do. */
export class KeyringUnavailable extends Error {
  override name = 'KeyringUnavailable';
}

type Pending = { child: ChildProcess; resolve: (value: string | null) => void; reject: (error: Error) => void };

export class KeyringClient {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private exitHook = false;
  /** Calls run one at a time in the child: the timeout of each starts when it is sent. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly timeoutMs: number,
    /** Whose environment the daemon has (see keyringFailure). */
    private readonly startedBy = 'the shell that ran it',
  ) {}

  get(account: string, service = KEYRING_SERVICE): Promise<string | null> {
    return this.call({ op: 'get', service, account });
  }

  async set(account: string, value: string, service = KEYRING_SERVICE): Promise<void> {
    await this.call({ op: 'set', service, account, value });
  }

  /** Resolves true when an entry was deleted. */
  async delete(account: string, service = KEYRING_SERVICE): Promise<boolean> {
    return (await this.call({ op: 'delete', service, account })) !== null;
  }

  /** Every entry of `service` whose account starts with `prefix`. */
  async find(service: string, prefix: string): Promise<Array<{ account: string; password: string }>> {
    return JSON.parse((await this.call({ op: 'find', service, account: prefix }))!) as Array<{ account: string; password: string }>;
  }

  close(): void {
    this.child?.kill('SIGKILL');
    this.child = null;
  }

  private call(request: Omit<KeyringRequest, 'id'>): Promise<string | null> {
    const result = this.queue.then(() => this.send(request));
    this.queue = result.catch(() => undefined);
    return result;
  }

  private send(request: Omit<KeyringRequest, 'id'>): Promise<string | null> {
    return new Promise((resolve, reject) => {
      const child = this.helper();
      const id = ++this.nextId;
      const timer = setTimeout(() => {
        this.kill(child, this.failure(`The OS keyring did not answer within ${this.timeoutMs / 1000} s (a locked keyring waiting for an unlock prompt?)`));
      }, this.timeoutMs);
      this.pending.set(id, {
        child,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      child.send({ ...request, id } satisfies KeyringRequest);
    });
  }

  private helper(): ChildProcess {
    if (this.child) return this.child;
    const child = fork(fileURLToPath(new URL('./keyring-helper.cjs', import.meta.url)), [], {
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // A small heap (a cap only the command line can set) and one V8 worker thread. Its V8
      // flags cost it Node's built-in code cache (docs/performance.md): once per helper, beside
      // its D-Bus round trips.
      execArgv: ['--max-old-space-size=16', '--max-semi-space-size=1', '--v8-pool-size=1'],
      serialization: 'json',
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.on('message', (reply: KeyringReply) => {
      const waiting = this.pending.get(reply.id);
      if (!waiting) return;
      this.pending.delete(reply.id);
      if (reply.ok) waiting.resolve(reply.value);
      else waiting.reject(new KeyringUnavailable(this.failure(`The OS keyring failed (${reply.error})`)));
    });
    child.on('error', (error) => this.kill(child, this.failure(`The OS keyring helper could not run (${error.message})`)));
    child.on('exit', (code, signal) => {
      const last = stderr.trim().split('\n').pop() ?? '';
      this.kill(child, this.failure(`The OS keyring helper exited (${signal ?? `status ${code}`}${last ? `: ${last}` : ''})`));
    });
    // Idle, the helper keeps nothing alive: a pending call's timer does while it waits.
    child.unref();
    child.channel?.unref();
    if (!this.exitHook) {
      // A helper stuck in a native call must not outlive the daemon.
      this.exitHook = true;
      process.once('exit', () => this.close());
    }
    this.child = child;
    return child;
  }

  private failure(what: string): string {
    return keyringFailure(what, this.startedBy);
  }

  /** Ends a helper and fails whatever was waiting on it; the next call starts a new one. */
  private kill(child: ChildProcess, reason: string): void {
    if (this.child === child) this.child = null;
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    for (const [id, waiting] of this.pending) {
      if (waiting.child !== child) continue;
      this.pending.delete(id);
      waiting.reject(new KeyringUnavailable(reason));
    }
  }
}
