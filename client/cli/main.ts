#!/usr/bin/env node
// codex-auth: the thin client. Every command is a request or two to codexd.
//
// The installed bin is bin.ts, which runs `codex-auth token` itself (the hot path:
// `Authorization: Bearer $(codex-auth token)`) and loads this file for every other command.
// What loads here is still kept lean: the client library, the login flow and the service
// installer load only for the commands that use them.
import { autostartDisabled, DaemonUnreachableError, systemdOwnsSocket } from '../autostart.js';
import { CodexdError, ErrorCodes, SocketRefusedError } from '../../shared/errors.js';
import type { CodexdClient } from '../index.js';
import { defaultLogFile, resolveSocketPath } from '../../shared/paths.js';
import { exitOnHelpOrVersion, VERSION } from '../../shared/version.js';
import { checkApplies, parseCommandLine, type Flags } from './args.js';
import { accountsCommand, logoutCommand, switchCommand } from './accounts.js';
import { describeDaemon, describeStatus } from './format.js';
import { exitWith, print, token } from './token.js';
import { UsageError } from './usage.js';
import { waitForExit } from '../connect.js';

const HELP = `codex-auth ${VERSION} - sign in to Codex once, for every tool on this machine

Usage: codex-auth <command> [options]

Commands:
  login                     sign in with ChatGPT in the browser (on a terminal, first
                            asks: browser, device code, or API key)
  login --device-auth       sign in with a one-time code (SSH and headless machines)
  login --with-api-key      read an API key from stdin
  login --api-key KEY       store KEY (it ends up in your shell history)
  login --cancel            cancel the pending login, whoever started it
  login --name NAME         name the account the login adds (default: its email);
                            a login to an account codexd has updates it in place
  login status              same as status
  status                    who is logged in, how, and when the token expires
  token                     print the bearer credential (refreshed first when due)
  token --account NAME      the credential of account NAME, without switching
  accounts [--json]         every account: name, type, email, plan, token expiry, state
  switch NAME               make account NAME the one Codex uses (auth.json)
  logout [NAME | --all]     revoke the active account (or NAME, or every account;
                            best effort) and remove it
  daemon start|stop|status  control the codexd daemon
  logs [-f] [--json]        the daemon's log, readable (-f: follow; from the journal under systemd)
  service install|uninstall install or remove the systemd user units (--dry-run)
  config list|get|set|unset show or edit the settings file (config set KEY VALUE)
  remote ssh-config HOST    print the ~/.ssh/config lines that forward codexd's restricted
                            socket to HOST, where a follower codexd uses it: access tokens
                            there, never the refresh token (--remote-uid UID: your uid on
                            HOST, when it is not the same as here)
  remote container          print the docker run and devcontainer.json lines that mount the
                            restricted socket into a container
  app-server [-- ARGS]      run \`codex app-server ARGS\` logged in with codexd's token, for
                            editors (--account NAME: that account; --codex PATH: that Codex)
  help                      this help

Options:
  --socket PATH        daemon socket (env CODEXD_SOCKET)
  --json               machine-readable output (status, token, daemon status, logs,
                       config list)
  --no-browser         print the login URL without opening a browser
  --force-refresh      token: refresh now, even if the token is not due
  --no-autostart       never start codexd (env CODEXD_NO_AUTOSTART=1)
  --dry-run            service: show what would change, change nothing
  -f, --follow         logs: keep printing new lines
  --remote-uid UID     remote ssh-config: your uid on HOST (default: the same as here)
  --account NAME       token, app-server: that account instead of the active one
  --codex PATH         app-server: the Codex to run (env CODEXD_CODEX; default: codex)
  -h, --help           this help
  --version            print the version

Exit status: 0 success; 1 not logged in, re-login needed, or the action failed;
2 usage error or the daemon cannot be reached.`;

async function status(client: CodexdClient, json: boolean): Promise<number> {
  // The restricted socket (forwarded from another machine) keeps the daemon's own status to itself.
  const daemonStatus = client.daemonStatus().catch((error: unknown) => {
    if (error instanceof CodexdError && error.code === ErrorCodes.restricted) return null;
    throw error;
  });
  const [current, daemon] = await Promise.all([client.read(), daemonStatus]);
  const apiKey = current.account?.type === 'apiKey' ? await client.token().then((t) => (t.type === 'apiKey' ? t.apiKey : null)) : null;
  print(json, { ...current, daemon }, describeStatus(current, apiKey, daemon));
  return current.account !== null && current.state !== 'reauthRequired' ? 0 : 1;
}

async function daemonCommand(action: string | undefined, socket: string, flags: Flags): Promise<number> {
  const { CodexdClient } = await import('../index.js');
  // Controlling the daemon is about the process, not the account: any daemon on the socket will do.
  const client = new CodexdClient(socket, { autostart: false, expect: {}, anyVersion: true });
  const running = await client.daemonStatus().catch((error: unknown) => {
    if (error instanceof DaemonUnreachableError && !(error instanceof SocketRefusedError)) return null;
    throw error;
  });
  switch (action) {
    case 'status':
      if (!running) {
        print(flags.json, { running: false, socket }, `codexd is not running (socket ${socket})`);
        return 1;
      }
      print(flags.json, { running: true, ...running }, describeDaemon(running));
      return 0;
    case 'start': {
      if (running) {
        process.stdout.write(`codexd is already running (pid ${running.pid}, socket ${running.socket})\n`);
        return 0;
      }
      const started = await new CodexdClient(socket, { autostart: true, expect: {}, anyVersion: true }).daemonStatus();
      process.stdout.write(`codexd started (pid ${started.pid}, socket ${started.socket}, log ${started.logFile ?? 'stderr'})\n`);
      return 0;
    }
    case 'stop': {
      if (!running) {
        process.stdout.write('codexd is not running\n');
        return 0;
      }
      await client.shutdown();
      await waitForExit(running.pid, 10_000);
      process.stdout.write(`codexd stopped (pid ${running.pid})\n`);
      return 0;
    }
    default:
      throw new UsageError('usage: codex-auth daemon start|stop|status');
  }
}

async function serviceCommand(action: string | undefined, flags: Flags): Promise<number> {
  const service = await import('./service.js');
  const options = { dryRun: flags.dryRun, out: (line: string) => process.stdout.write(`${line}\n`), err: (line: string) => process.stderr.write(`${line}\n`) };
  if (action === 'install') return service.installService(options);
  if (action === 'uninstall') return service.uninstallService(options);
  throw new UsageError('usage: codex-auth service install|uninstall [--dry-run]');
}

async function logsCommand(extra: string | undefined, socket: string, flags: Flags): Promise<number> {
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"; usage: codex-auth logs [-f] [--json]`);
  const { CodexdClient } = await import('../index.js');
  const client = new CodexdClient(socket, { autostart: false });
  const running = await client.daemonStatus().catch((error: unknown) => {
    if (error instanceof DaemonUnreachableError) return null;
    throw error;
  });
  await client.close();
  const { showLogs } = await import('./logs.js');
  const options = { follow: flags.follow, json: flags.json };
  if (running?.activation === 'systemd' || (!running && systemdOwnsSocket(socket))) return showLogs({ journal: true }, options);
  if (running && running.logFile === null) {
    process.stderr.write(`codex-auth: codexd (pid ${running.pid}) runs in the foreground and logs to its own terminal\n`);
    return 1;
  }
  return showLogs({ journal: false, file: running?.logFile ?? defaultLogFile() }, options);
}

async function run(argv: string[]): Promise<number> {
  // Whatever follows `--` is for `codex app-server` (codex-auth app-server -- ARGS).
  const dashes = argv.indexOf('--');
  const passed = dashes === -1 ? [] : argv.slice(dashes + 1);
  const commandLine = parseCommandLine(dashes === -1 ? argv : argv.slice(0, dashes));
  exitOnHelpOrVersion(commandLine, HELP);
  const { command, flags, given } = commandLine;
  const [name, sub, ...rest] = command;
  if (name === undefined || (name === 'help' && sub === undefined)) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  checkApplies(name, sub, given);
  if (name === 'config') return (await import('./config.js')).configCommand(sub, rest, flags.json);
  if (name === 'remote') return (await import('./remote.js')).remoteCommand(sub, rest, flags);
  const socket = resolveSocketPath(flags.socket);
  if (name === 'daemon') return daemonCommand(sub, socket, flags);
  if (name === 'service') return serviceCommand(sub, flags);
  if (name === 'logs') return logsCommand(sub, socket, flags);
  if (dashes !== -1 && name !== 'app-server') throw new UsageError(`\`--\` passes arguments to \`codex app-server\` only (codex-auth app-server -- ARGS)`);
  if (name === 'app-server') {
    if (sub !== undefined) throw new UsageError(`unexpected argument "${sub}"; pass arguments for Codex after --: codex-auth app-server -- ${[sub, ...rest].join(' ')}`);
    return (await import('./app-server.js')).appServerCommand(socket, !flags.noAutostart && !autostartDisabled(), flags, passed);
  }

  const known = ['login', 'status', 'token', 'logout', 'accounts', 'switch'];
  if (!known.includes(name)) throw new UsageError(`unknown command "${name}"; run \`codex-auth --help\``);
  const loginStatus = name === 'login' && sub === 'status';
  const takesName = name === 'switch' || name === 'logout';
  if ((sub !== undefined && !loginStatus && !takesName) || rest.length > 0) throw new UsageError(`unexpected argument "${loginStatus || takesName ? rest[0] : sub}"`);

  if (name === 'token') return token(flags);
  const autostart = !flags.noAutostart && !autostartDisabled();
  const { CodexdClient } = await import('../index.js');
  const client = new CodexdClient(socket, { autostart });
  try {
    if (name === 'status' || loginStatus) return await status(client, flags.json);
    if (name === 'logout') return await logoutCommand(client, sub, flags.all);
    if (name === 'accounts') return await accountsCommand(client, flags.json);
    if (name === 'switch') return await switchCommand(client, sub);
    const modes = [flags.deviceAuth, flags.withApiKey, flags.apiKey !== undefined].filter(Boolean).length;
    if (modes > 1) throw new UsageError('choose one of --device-auth, --with-api-key and --api-key');
    const { cancelPendingLogin, login } = await import('./login.js');
    if (flags.cancel) {
      if (modes > 0 || flags.noBrowser || flags.name !== undefined) throw new UsageError('--cancel takes no other login option');
      return await cancelPendingLogin(client);
    }
    return await login(client, { deviceAuth: flags.deviceAuth, withApiKey: flags.withApiKey, apiKey: flags.apiKey, noBrowser: flags.noBrowser, name: flags.name });
  } finally {
    await client.close();
  }
}

exitWith(run(process.argv.slice(2)));
