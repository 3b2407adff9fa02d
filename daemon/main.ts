// codexd: the daemon. Wires settings, logging, the socket, the auth store and the account
// service together; runtime/lifecycle.ts shuts them down in order.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { configDir } from '../shared/paths.js';
import { exitOnHelpOrVersion, VERSION } from '../shared/version.js';
import { daemonLockPath } from '../shared/paths.js';
import { defaultLimits } from '../shared/transport.js';
import { AccountService } from './accounts/service.js';
import { AccountFiles } from './accounts/files.js';
import { createHandlers } from './rpc/handlers.js';
import { IssuerClient } from './auth/issuer.js';
import { Lifecycle, type Listener } from './runtime/lifecycle.js';
import { createLogger, prettyStderr, type Logger } from './runtime/log.js';
import { RpcServer } from './rpc/server.js';
import { SettingsError } from '../shared/errors.js';
import { loadSettings, type Settings } from './runtime/settings.js';
import {
  bindSocket,
  checkSocketPathLength,
  describeRunning,
  listenOnActivatedFd,
  prepareSocketDir,
  probe,
  readActivation,
  StartupError,
  unlinkIfOurs,
  type SocketActivation,
} from './runtime/socket.js';
import { CodexConfig } from './auth/codex-config.js';
import { AccountsByMode } from './keyring/accounts.js';
import { KeyringPoll } from './keyring/poll.js';
import { KeyringClient } from './keyring/client.js';
import { AuthStore } from './auth/store.js';
import { Follower } from './follower/follower.js';
import { FileWatcher } from './runtime/watcher.js';
import { HttpClient } from './runtime/http.js';
import { UsageBackend } from './usage/backend.js';
import { UsageService } from './usage/service.js';
import { AutoSwitch } from './usage/auto-switch.js';
import { lockCodexHome } from './runtime/home-lock.js';
import { IdleTrim } from './runtime/idle-trim.js';

const HELP = `codexd ${VERSION} - one daemon that owns Codex's auth.json for every tool

Usage: codexd [options]

Runs in the foreground until SIGTERM, SIGINT or a daemon/shutdown request.
Clients (codex-auth, editor integrations) talk to it over a Unix socket.

Options:
  --socket PATH       socket to listen on (env CODEXD_SOCKET; default
                      $XDG_RUNTIME_DIR/codexd/codexd.sock, or codexd-<key>.sock
                      there for a CODEX_HOME other than ~/.codex). The restricted
                      socket, for remote machines and containers, is beside it
                      (codexd.restricted.sock; env CODEXD_RESTRICTED_SOCKET, off
                      to turn it off)
  --codex-home DIR    folder holding auth.json (env CODEX_HOME; default ~/.codex)
  --log-level LEVEL   fatal|error|warn|info|debug|trace|silent (env CODEXD_LOG_LEVEL)
  --log-file PATH     append JSON logs to PATH (created 0600) instead of stderr
  --upstream PATH     follow the codexd on PATH (usually forwarded with ssh -R):
                      mirror its login into auth.json, never log in or refresh
                      (env CODEXD_UPSTREAM)
  --version           print the version and exit
  --help              print this help and exit

Settings are also read from the settings file, ${join(configDir(), 'config.json')}.
See the README and docs/ for every setting, the protocol and the security model.`;

function fail(message: string, code = 1): never {
  process.stderr.write(`codexd: ${message}\n`);
  process.exit(code);
}

/** The log once settings have said where it goes. */
let daemonLog: Logger | null = null;

/**
 * Every promise in codexd has someone to catch its rejection. One without is a bug: it is said
 * in the log and on stderr with this phrase, which the tests look for after each test
 * (test/helpers.ts), and it ends the daemon (exit status 70), as Node would, but in one line.
 */
const UNHANDLED_REJECTION = 'a promise rejected with nobody to catch it';

process.on('unhandledRejection', (reason) => {
  const message = reason instanceof Error ? reason.message : String(reason);
  daemonLog?.fatal({ err: reason }, `internal error (${UNHANDLED_REJECTION}): ${message}`);
  fail(`internal error (${UNHANDLED_REJECTION}): ${message}; please report it, with the log`, 70);
});

/**
 * The settings' flags, and whether a client's autostart started this daemon (`--autostarted`, with
 * `--started-by` naming the client; neither in the help).
 */
function parseFlags(): Parameters<typeof loadSettings>[0] & { autostarted: boolean; startedBy: string | undefined } {
  try {
    const { values } = parseArgs({
      options: {
        socket: { type: 'string' },
        'codex-home': { type: 'string' },
        'log-level': { type: 'string' },
        'log-file': { type: 'string' },
        upstream: { type: 'string' },
        autostarted: { type: 'boolean' },
        'started-by': { type: 'string' },
        version: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    });
    exitOnHelpOrVersion(values, HELP);
    return { socket: values.socket, codexHome: values['codex-home'], logLevel: values['log-level'], logFile: values['log-file'], upstream: values.upstream, autostarted: values.autostarted === true, startedBy: values['started-by'] };
  } catch (error) {
    return fail(`${(error as Error).message}\nRun \`codexd --help\` for usage.`, 2);
  }
}

async function main(): Promise<void> {
  // Everything codexd creates (socket, logs, auth.json temp files, folders) is private to the user.
  process.umask(0o077);
  // An autostarting client reads stderr only until the socket is up, then closes the pipe:
  // a later write must not crash the daemon with EPIPE (what matters is in the log as well).
  process.stderr.on('error', () => undefined);
  const flags = parseFlags();
  let settings: Settings;
  try {
    settings = await loadSettings(flags);
  } catch (error) {
    if (error instanceof SettingsError) {
      // Without settings there is no configured log file yet; the one given by flag still hears why.
      if (flags.logFile) createLogger({ level: 'error', file: flags.logFile }).error(error.message);
      fail(error.message, 2);
    }
    throw error;
  }
  const stream = settings.logFile === null && process.stderr.isTTY ? await prettyStderr() : undefined;
  const log = createLogger({ level: settings.logLevel, file: settings.logFile, stream });
  daemonLog = log;
  try {
    await run(settings, log, flags);
  } catch (error) {
    if (error instanceof StartupError) {
      // Printed once: when the log is stderr, the plain line alone.
      if (settings.logFile) log.error(error.message);
      fail(error.message, error.exitCode);
    }
    throw error;
  }
}

async function run(settings: Settings, log: Logger, { autostarted, startedBy }: { autostarted: boolean; startedBy: string | undefined }): Promise<void> {
  const activation = readActivation();
  const activationName = activation.kind === 'systemd' ? 'systemd' : 'bind';
  if (activation.kind === 'none') {
    checkSocketPathLength(settings.socket);
    prepareSocketDir(settings.socket);
    if (settings.restrictedSocket) {
      checkSocketPathLength(settings.restrictedSocket, 'restricted');
      prepareSocketDir(settings.restrictedSocket, 'restricted');
    }
  }

  const config = new CodexConfig(settings.codexHome);
  // Its helper process starts on the first keyring call: never in file mode.
  const keyring = new KeyringClient(settings.keyringTimeoutMs, whoStarted(activation.kind === 'systemd', autostarted ? (startedBy ?? 'a client') : null));
  const store = new AuthStore(settings.codexHome, 30_000, { config, keyring });
  try {
    store.ensureHome();
  } catch (error) {
    throw new StartupError(`cannot create CODEX_HOME ${settings.codexHome}: ${(error as Error).message}`);
  }
  const homeLock = lockCodexHome(settings.codexHome, settings.socket, daemonLockPath(settings.codexHome));
  if (homeLock.warning) log.warn(homeLock.warning);

  const instanceId = newInstanceId();
  const follower = settings.upstream ? new Follower(store, { path: settings.upstream, instanceId, timeoutMs: settings.upstreamTimeoutMs, retryMaxMs: settings.upstreamRetryMaxMs }, log) : null;
  const { account, watcher } = follower ? { account: follower, watcher: watchForOwnLogin(store, follower, log) } : own(store, config, keyring, settings, log);
  // A switch of cli_auth_credentials_store takes effect at once: the login is read from, and written
  // to, the new place (nothing is moved there, as Codex moves nothing).
  new FileWatcher(join(settings.codexHome, 'config.toml'), () => config.reread());
  const lifecycle = new Lifecycle(settings, activationName, account, homeLock, log);
  const usage = usageOf(account, config, settings, log);
  const handlers = createHandlers(account, {
    version: VERSION,
    serves: { codexHome: settings.codexHome, issuer: settings.issuer, clientId: settings.clientId },
    startedBy: activation.kind === 'systemd' ? 'systemd' : autostarted ? 'autostart' : 'user',
    instanceIds: () => [instanceId, ...(follower?.upstreamInstanceIds ?? [])],
    status: () => lifecycle.status(),
    shutdown: () => void lifecycle.shutdown('daemon/shutdown request'),
  }, usage);
  const activity = new IdleTrim();
  const rpcServer = (restricted: boolean): RpcServer =>
    new RpcServer({
      restricted,
      maxConnections: settings.maxConnections,
      limits: { ...defaultLimits, partialFrameTimeoutMs: settings.frameTimeoutMs },
      handlers,
      log,
      activity,
    });
  const rpc = rpcServer(false);
  const restrictedRpc = rpcServer(true);
  // Each server sends only the notifications its socket carries.
  account.on('updated', (status) => [rpc, restrictedRpc].forEach((server) => server.broadcastStatus(status)));
  account.on('loginCompleted', (event) => [rpc, restrictedRpc].forEach((server) => server.broadcastLoginCompleted(event)));
  usage.on('updated', (update) => [rpc, restrictedRpc].forEach((server) => server.broadcastRateLimits(update)));
  await account.start();
  // SWITCH_AT: only a daemon that holds the accounts switches them (a follower's are upstream).
  if (settings.switchAt > 0 && account instanceof AccountService) new AutoSwitch(account, usage, settings.switchAt, log).start();
  // Before the socket accepts: a client that finds codexd up finds no temp file of an interrupted write.
  removeLeftoverTempFiles(store, log);

  const { main, restricted } = await listen(activation, settings, rpc, restrictedRpc, log);
  lifecycle.serve({ main, restricted, watcher });
  // Start-up leaves free heap behind too.
  activity.touch();
  log.info(
    { version: VERSION, socket: settings.socket, restrictedSocket: restricted?.path ?? null, codexHome: settings.codexHome, ...(settings.upstream ? { upstream: settings.upstream } : {}), activation: activationName },
    'codexd is ready',
  );
}

/**
 * This daemon's id in `initialize`, new at every start, by which a follower whose upstream leads
 * back to it knows (daemon/follower/upstream.ts): 128 bits from Math.random, which Node seeds from
 * OpenSSL's generator in every process. The id only has to differ from other daemons' (it guards
 * nothing), and node:crypto's randomUUID would load node:crypto before the socket listens.
 */
function newInstanceId(): string {
  return Array.from({ length: 4 }, () => Math.floor(Math.random() * 0x1_0000_0000).toString(16).padStart(8, '0')).join('');
}

/** Who started this daemon, whose environment it keeps: for messages about what that environment lacks. */
function whoStarted(systemd: boolean, client: string | null): string {
  if (systemd) return 'the systemd user manager';
  return client ? `${client}, which started it` : 'the shell that ran it';
}

/** The daemon that owns the login: it refreshes, logs in and out, and watches auth.json for outside edits. */
function own(store: AuthStore, config: CodexConfig, keyring: KeyringClient, settings: Settings, log: Logger): { account: AccountService; watcher: FileWatcher } {
  const issuer = new IssuerClient({ issuer: settings.issuer, clientId: settings.clientId, timeoutMs: settings.httpTimeoutS * 1000, version: VERSION });
  const inactive = new AccountsByMode(new AccountFiles(settings.codexHome), keyring, config, settings.codexHome);
  const account = new AccountService(store, inactive, issuer, settings, log);
  const reload = (): void => {
    account.reload().catch((error: Error) => log.warn(`could not re-read the login: ${error.message}`));
  };
  // Watching starts before the first read: a change made between the two would otherwise go unseen
  // until the next one (the watcher's first fingerprint would already include it).
  const watcher = new FileWatcher(store.file, reload);
  // In keyring and auto mode, a poll of the keyring entry; and a switch of mode re-reads at once.
  new KeyringPoll(config, settings.keyringPollMs, () => account.reload(), log);
  config.on('changed', (mode) => {
    log.info({ credentialStore: mode }, 'config.toml changed where the login lives');
    void account.credentialStoreChanged();
  });
  return { account, watcher };
}

/** Every account's usage, from the ChatGPT backend config.toml names (docs/usage.md). */
function usageOf(account: AccountService | Follower, config: CodexConfig, settings: Settings, log: Logger): UsageService {
  const backend = new UsageBackend(new HttpClient(), { baseUrl: () => config.chatgptBaseUrl, timeoutMs: settings.httpTimeoutS * 1000, version: VERSION });
  const cacheMs = settings.usageCacheS * 1000;
  return new UsageService(account, backend, { cacheMs, pollMs: Math.max(60_000, cacheMs) }, log);
}

/** A follower watches auth.json for a login made on this machine (`codex login`), which it must leave alone. */
function watchForOwnLogin(store: AuthStore, follower: Follower, log: Logger): FileWatcher {
  return new FileWatcher(store.file, () => {
    follower.recheck().catch((error: Error) => log.warn(`could not re-read ${store.file}: ${error.message}`));
  });
}

/** Temp files of a write that died before its rename; never waits for a lock Codex holds. */
function removeLeftoverTempFiles(store: AuthStore, log: Logger): void {
  try {
    const removed = store.removeLeftoverTempFiles();
    if (removed === null) log.info('auth.lock is held by another writer; temp files of interrupted writes, if any, stay until the next start');
    else if (removed.length > 0) log.warn({ removed }, 'removed temp files left by an interrupted write');
  } catch (error) {
    log.warn(`could not clean up temp files in ${store.codexHome}: ${(error as Error).message}`);
  }
}

/**
 * A daemon already serving both sockets answers on its restricted one without its pid: when the
 * restricted socket is taken, the daemon on the main socket, if any, is the one to name.
 */
async function namedByMainSocket(socket: string, error: unknown): Promise<never> {
  const running = await probe(socket);
  throw typeof running === 'object' && running.pid !== null ? new StartupError(describeRunning(running)) : error;
}

/**
 * Serves on the sockets systemd passed, or binds them: the restricted one first, so that once the
 * main socket accepts (what clients wait for) both do.
 */
async function listen(activation: SocketActivation, settings: Settings, rpc: RpcServer, restrictedRpc: RpcServer, log: Logger): Promise<{ main: Listener; restricted: Listener | null }> {
  if (activation.kind === 'systemd') {
    await listenOnActivatedFd(rpc.server, activation.main);
    const main = { rpc, path: settings.socket, identity: null };
    if (activation.restricted === null) return { main, restricted: null };
    if (!settings.restrictedSocket) {
      log.warn('CODEXD_RESTRICTED_SOCKET is off, but systemd passed the restricted socket: not serving it; turn it off there too with `systemctl --user disable --now codexd-restricted.socket`');
      return { main, restricted: null };
    }
    await listenOnActivatedFd(restrictedRpc.server, activation.restricted);
    return { main, restricted: { rpc: restrictedRpc, path: settings.restrictedSocket, identity: null } };
  }
  const restricted = settings.restrictedSocket
    ? { rpc: restrictedRpc, path: settings.restrictedSocket, identity: await bindSocket(restrictedRpc.server, settings.restrictedSocket, 'restricted').catch((error) => namedByMainSocket(settings.socket, error)) }
    : null;
  try {
    return { main: { rpc, path: settings.socket, identity: await bindSocket(rpc.server, settings.socket) }, restricted };
  } catch (error) {
    if (restricted) unlinkIfOurs(restricted.path, restricted.identity);
    throw error;
  }
}

/** Settles once the daemon serves; the bin (./bin.ts) then writes its code cache and sets V8's flags for a long run. */
export const serving: Promise<void> = main().catch((error: unknown) => fail(`unexpected error: ${(error as Error)?.stack ?? String(error)}`));
