// The handlers of every command but `token`: the full CLI, which the bin (bin.ts) loads when
// one of them runs. Each is named in the command table (commands.ts). What loads here is still
// kept lean: the client library, the login flow, the service installer, the log reader and the
// settings editor load only for the commands that use them.
import { autostartDisabled, DaemonUnreachableError, systemdOwnsSocket } from '../autostart.js';
import { CodexdError, ErrorCodes, SocketRefusedError } from '../../shared/errors.js';
import type { CodexdClient } from '../index.js';
import { defaultLogFile, resolveSocketPath } from '../../shared/paths.js';
import type { Flags } from './flags.js';
import { accountsCommand, logoutCommand, switchCommand } from './accounts.js';
import type { Call } from './commands.js';
import { describeDaemon, describeStatus, when } from './format.js';
import { describeUsageLine, usageCommand } from './usage-command.js';
import { print, settle } from './output.js';
import { UsageError } from './usage.js';
import { waitForExit } from '../connect.js';

/** A client of the daemon for this call, closed when `use` ends. */
async function withClient(flags: Flags, use: (client: CodexdClient) => Promise<number>): Promise<number> {
  const autostart = !flags.noAutostart && !autostartDisabled();
  const { CodexdClient } = await import('../index.js');
  const client = new CodexdClient(resolveSocketPath(flags.socket), { autostart });
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

async function status(client: CodexdClient, json: boolean): Promise<number> {
  // The restricted socket (forwarded from another machine) keeps the daemon's own status to itself.
  const daemonStatus = client.daemonStatus().catch((error: unknown) => {
    if (error instanceof CodexdError && error.code === ErrorCodes.restricted) return null;
    throw error;
  });
  // What is known of the active account's usage, without asking the backend (docs/usage.md).
  const usage = client.usage().then(
    (rows) => rows.find((row) => row.active)?.usage ?? null,
    () => null, // the restricted socket does not list usage, and an older daemon does not know it
  );
  const [current, daemon, activeUsage] = await Promise.all([client.read(), daemonStatus, usage]);
  const apiKey = current.account?.type === 'apiKey' ? await client.token().then((t) => (t.type === 'apiKey' ? t.apiKey : null)) : null;
  const extra = [
    ...(activeUsage ? [`  usage:          ${describeUsageLine(activeUsage)}`] : []),
    // Absent from daemons older than SWITCH_AT.
    ...(current.autoSwitch ? [`  auto-switch:    ${when(current.autoSwitch.at, Date.now())}: ${current.autoSwitch.reason}`] : []),
  ];
  const text = [describeStatus(current, apiKey, daemon), ...extra].join('\n');
  print(json, { ...current, daemon, usage: activeUsage }, text);
  return current.account !== null && current.state !== 'reauthRequired' ? 0 : 1;
}

async function login(client: CodexdClient, flags: Flags): Promise<number> {
  const modes = [flags.deviceAuth, flags.withApiKey, flags.apiKey !== undefined].filter(Boolean).length;
  if (modes > 1) throw new UsageError('choose one of --device-auth, --with-api-key and --api-key');
  const flows = await import('./login.js');
  if (flags.cancel) {
    if (modes > 0 || flags.noBrowser || flags.name !== undefined) throw new UsageError('--cancel takes no other login option');
    return flows.cancelPendingLogin(client);
  }
  return flows.login(client, { deviceAuth: flags.deviceAuth, withApiKey: flags.withApiKey, apiKey: flags.apiKey, noBrowser: flags.noBrowser, name: flags.name });
}

/** The daemon on the socket, or null when none answers; controlling the daemon is about the process, not the account: any daemon will do. */
async function runningDaemon(flags: Flags): Promise<{ client: CodexdClient; socket: string; running: Awaited<ReturnType<CodexdClient['daemonStatus']>> | null }> {
  const { CodexdClient } = await import('../index.js');
  const socket = resolveSocketPath(flags.socket);
  const client = new CodexdClient(socket, { autostart: false, expect: {}, anyVersion: true });
  const running = await client.daemonStatus().catch((error: unknown) => {
    if (error instanceof DaemonUnreachableError && !(error instanceof SocketRefusedError)) return null;
    throw error;
  });
  return { client, socket, running };
}

async function daemonStatus({ flags }: Call): Promise<number> {
  const { socket, running } = await runningDaemon(flags);
  if (!running) {
    print(flags.json, { running: false, socket }, `codexd is not running (socket ${socket})`);
    return 1;
  }
  print(flags.json, { running: true, ...running }, describeDaemon(running));
  return 0;
}

async function daemonStart({ flags }: Call): Promise<number> {
  const { socket, running } = await runningDaemon(flags);
  if (running) {
    process.stdout.write(`codexd is already running (pid ${running.pid}, socket ${running.socket})\n`);
    return 0;
  }
  return startDaemon(socket);
}

async function startDaemon(socket: string): Promise<number> {
  const { CodexdClient } = await import('../index.js');
  const started = await new CodexdClient(socket, { autostart: true, expect: {}, anyVersion: true }).daemonStatus();
  process.stdout.write(`codexd started (pid ${started.pid}, socket ${started.socket}, log ${started.logFile ?? 'stderr'})\n`);
  return 0;
}

/** Stops the daemon on the socket; false when none was running. */
async function stopDaemon(flags: Flags): Promise<{ socket: string; stopped: boolean }> {
  const { client, socket, running } = await runningDaemon(flags);
  if (!running) return { socket, stopped: false };
  await client.shutdown();
  await waitForExit(running.pid, 10_000);
  // Its count includes this command's own connection.
  const others = running.connections - 1;
  const clients = others === 1 ? '1 client was connected' : `${others} clients were connected`;
  process.stdout.write(`codexd stopped (pid ${running.pid})${others > 0 ? `; ${clients}: the next request from one of them starts codexd again` : ''}\n`);
  return { socket, stopped: true };
}

async function daemonStop({ flags }: Call): Promise<number> {
  if (!(await stopDaemon(flags)).stopped) process.stdout.write('codexd is not running\n');
  return 0;
}

async function daemonRestart({ flags }: Call): Promise<number> {
  const { socket, stopped } = await stopDaemon(flags);
  if (!stopped) process.stdout.write('codexd was not running\n');
  return startDaemon(socket);
}

async function service(action: 'installService' | 'uninstallService', flags: Flags): Promise<number> {
  const service = await import('./service.js');
  return service[action]({ dryRun: flags.dryRun, out: (line: string) => process.stdout.write(`${line}\n`), err: (line: string) => process.stderr.write(`${line}\n`) });
}

async function logs({ flags }: Call): Promise<number> {
  const socket = resolveSocketPath(flags.socket);
  const { CodexdClient } = await import('../index.js');
  const client = new CodexdClient(socket, { autostart: false });
  const running = await client.daemonStatus().catch((error: unknown) => {
    if (error instanceof DaemonUnreachableError) return null;
    throw error;
  });
  await client.close();
  const { showLogs } = await import('./logs.js');
  // As `tail -f`: with -f, the last 10 entries unless -n says otherwise.
  const options = { follow: flags.follow, json: flags.json, last: flags.lines ?? (flags.follow ? 10 : null) };
  if (running?.activation === 'systemd' || (!running && systemdOwnsSocket(socket))) return showLogs({ journal: true }, options);
  if (running && running.logFile === null) {
    process.stderr.write(`codex-auth: codexd (pid ${running.pid}) runs in the foreground and logs to its own terminal\n`);
    return 1;
  }
  return showLogs({ journal: false, file: running?.logFile ?? defaultLogFile() }, options);
}

async function exec({ flags, passed }: Call): Promise<number> {
  const { checkExecRequest, credentialVariable, runWithCredential } = await import('./exec.js');
  checkExecRequest({ command: passed, variable: flags.env });
  const { requestOnce } = await import('../oneshot.js');
  const { Requests } = await import('../../shared/protocol.js');
  const autostart = !flags.noAutostart && !autostartDisabled();
  const credential = await requestOnce(resolveSocketPath(flags.socket), autostart, Requests.accountToken, flags.account === undefined ? {} : { account: flags.account });
  const [variable, value] = credentialVariable(credential, flags.env);
  return runWithCredential(passed, variable, value);
}

const HANDLERS = {
  login: ({ flags }: Call) => withClient(flags, (client) => login(client, flags)),
  status: ({ flags }: Call) => withClient(flags, (client) => status(client, flags.json)),
  accounts: ({ flags }: Call) => withClient(flags, (client) => accountsCommand(client, flags.json)),
  usage: ({ flags }: Call) => withClient(flags, (client) => usageCommand(client, { json: flags.json, all: flags.all, account: flags.account })),
  switch: ({ flags, args }: Call) => withClient(flags, (client) => switchCommand(client, args[0]!)),
  logout: ({ flags, args }: Call) => withClient(flags, (client) => logoutCommand(client, args[0], flags.all)),
  daemonStart,
  daemonStop,
  daemonRestart,
  daemonStatus,
  logs,
  serviceInstall: ({ flags }: Call) => service('installService', flags),
  serviceUninstall: ({ flags }: Call) => service('uninstallService', flags),
  configList: async ({ flags }: Call) => (await import('./config.js')).configList(flags.json, flags.all),
  configGet: async ({ args }: Call) => (await import('./config.js')).configGet(args[0]!),
  configSet: async ({ args }: Call) => (await import('./config.js')).configSet(args[0]!, args[1]!),
  configUnset: async ({ args }: Call) => (await import('./config.js')).configUnset(args[0]!),
  remoteSshConfig: async ({ flags, args }: Call) => (await import('./remote.js')).sshConfigCommand(args[0]!, flags),
  remoteContainer: async ({ flags }: Call) => (await import('./remote.js')).containerCommand(flags),
  appServer: async ({ flags, passed }: Call) =>
    (await import('./app-server.js')).appServerCommand(resolveSocketPath(flags.socket), !flags.noAutostart && !autostartDisabled(), flags, passed),
  doctor: async ({ flags }: Call) => (await import('./doctor/doctor.js')).doctorCommand({ socket: flags.socket, json: flags.json, offline: flags.offline }),
  completion: async ({ args }: Call) => {
    const { completionEntries, completionScript } = await import('./completion.js');
    process.stdout.write(completionScript(args[0], completionEntries()));
    return 0;
  },
  exec,
} satisfies Record<string, (call: Call) => Promise<number>>;

export type HandlerName = keyof typeof HANDLERS;

/** Runs a handler to its exit status: the full CLI's errors are told apart by its own classes. */
export function runHandler(name: HandlerName, call: Call): Promise<number> {
  return settle(HANDLERS[name](call), call.command);
}
