// `codex-auth service install|uninstall`: puts codexd under the user's service manager.
// Linux: the systemd user units from the package's systemd/ folder (socket activation).
// macOS: a launchd agent generated here. Windows: nothing yet.
import { execFile } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultSocketPath, resolveSocketPath, sameCodexHome } from '../../shared/paths.js';
import { systemdSocketUnitPath } from '../autostart.js';

export interface ServiceOptions {
  dryRun: boolean;
  out: (line: string) => void;
  err: (line: string) => void;
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
}

// Paths of this install, relative to the compiled dist/client/cli/service.js.
const DAEMON_MAIN = fileURLToPath(new URL('../../daemon/main.js', import.meta.url));
const TEMPLATES = new URL('../../../systemd/', import.meta.url);

const SOCKET_UNIT = 'codexd.socket';
const SERVICE_UNIT = 'codexd.service';
const LAUNCHD_LABEL = 'dev.codexd.agent';
const PROBE_TIMEOUT_MS = 5_000;
const COMMAND_TIMEOUT_MS = 30_000;

type Env = NodeJS.ProcessEnv;
type Io = Required<ServiceOptions>;

interface Desired {
  path: string;
  content: string;
}

function io(opts: ServiceOptions): Io {
  return { ...opts, env: opts.env ?? process.env, platform: opts.platform ?? process.platform };
}

function home(env: Env): string {
  return env['HOME'] || homedir();
}

function systemdUserDir(env: Env): string {
  return dirname(systemdSocketUnitPath(env));
}

/** The client's autostart stands aside when this unit exists, so it owns the path logic. */
export { systemdSocketUnitPath };

// ---------------------------------------------------------------- running commands (no shell)

interface RunResult {
  ok: boolean;
  /** Why it failed, one line: exit status and the first line of stderr, or the spawn error. */
  why: string;
}

function runCommand(file: string, args: string[], env: Env, timeoutMs: number): Promise<RunResult> {
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

// ---------------------------------------------------------------- files

function readOrNull(path: string): string | null {
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
function syncFiles(files: Desired[], o: Io): boolean {
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
function removeFiles(paths: string[], o: Io): boolean {
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

function lexists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** ~/.codex must exist before the sandboxed service starts (it cannot create it there); notes on settings the units ignore. */
function prepareForService(o: Io): void {
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
}

// ---------------------------------------------------------------- systemd (Linux)

/**
 * One ExecStart= word: `%` is a specifier and `$` a variable in ExecStart=, so both are doubled;
 * a word with anything beyond plain path characters goes in double quotes with C escapes.
 */
export function systemdExecWord(word: string): string {
  if (/[\0-\x1f\x7f]/.test(word)) throw new Error(`cannot put a path with control characters in a unit file: ${JSON.stringify(word)}`);
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[\w/.,:+=@-]+$/.test(word)) return escaped;
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

function desiredUnits(env: Env): Desired[] {
  const dir = systemdUserDir(env);
  const node = systemdExecWord(process.execPath);
  const daemon = systemdExecWord(DAEMON_MAIN);
  return [SOCKET_UNIT, SERVICE_UNIT].map((name) => ({
    path: join(dir, name),
    content: readFileSync(new URL(name, TEMPLATES), 'utf8')
      .replace(/@NODE@/g, () => node)
      .replace(/@CODEXD@/g, () => daemon),
  }));
}

// Test-only: CODEXD_SYSTEMCTL names a stand-in for systemctl, so tests can record the calls
// instead of talking to a real user manager. Not a setting; not documented for users.
function systemctlBinary(env: Env): string {
  return env['CODEXD_SYSTEMCTL'] || 'systemctl';
}

function systemctlLine(args: string[]): string {
  return ['systemctl', '--user', ...args].join(' ');
}

/** Whether `systemctl --user` reaches a user manager; the reason when it does not. */
async function probeSystemctl(env: Env): Promise<RunResult> {
  return runCommand(systemctlBinary(env), ['--user', 'show-environment'], env, PROBE_TIMEOUT_MS);
}

/** Runs the commands in order, stopping at the first failure. */
async function runSystemctl(commands: string[][], o: Io): Promise<boolean> {
  for (const args of commands) {
    const result = await runCommand(systemctlBinary(o.env), ['--user', ...args], o.env, COMMAND_TIMEOUT_MS);
    if (!result.ok) {
      o.err(`codex-auth: \`${systemctlLine(args)}\` failed (${result.why})`);
      return false;
    }
    o.out(`ran: ${systemctlLine(args)}`);
  }
  return true;
}

function printManual(commands: string[][], why: string, o: Io): void {
  o.out(`systemctl --user was not run (${why}); run these yourself:`);
  for (const args of commands) o.out(`  ${systemctlLine(args)}`);
}

async function installSystemd(o: Io): Promise<number> {
  if (!existsSync(DAEMON_MAIN)) {
    o.err(`codex-auth: codexd is not built: ${DAEMON_MAIN} is missing`);
    return 1;
  }
  const units = desiredUnits(o.env);
  const serviceExisted = existsSync(join(systemdUserDir(o.env), SERVICE_UNIT));
  const changed = syncFiles(units, o);
  prepareForService(o);

  const enable = ['enable', '--now', SOCKET_UNIT];
  const commands = changed ? [['daemon-reload'], enable] : [enable];
  if (o.dryRun) {
    for (const args of commands) o.out(`would run: ${systemctlLine(args)}${changed ? '' : `   (only if ${SOCKET_UNIT} is not enabled yet)`}`);
    return 0;
  }
  const probe = await probeSystemctl(o.env);
  if (!probe.ok) {
    printManual(commands, `no user manager reachable: ${probe.why}`, o);
    return 0;
  }
  if (!changed) {
    const enabled = await runCommand(systemctlBinary(o.env), ['--user', 'is-enabled', '--quiet', SOCKET_UNIT], o.env, PROBE_TIMEOUT_MS);
    if (enabled.ok) {
      o.out(`${SOCKET_UNIT} is already enabled`);
      return 0;
    }
  }
  if (!(await runSystemctl(commands, o))) return 1;
  o.out(`codexd starts on the first connection to its socket; logs: journalctl --user -u ${SERVICE_UNIT}`);
  if (changed && serviceExisted) o.out(`a running codexd keeps its old settings until: ${systemctlLine(['restart', SERVICE_UNIT])}`);
  return 0;
}

async function uninstallSystemd(o: Io): Promise<number> {
  const dir = systemdUserDir(o.env);
  const paths = [join(dir, SOCKET_UNIT), join(dir, SERVICE_UNIT)];
  const disable = ['disable', '--now', SOCKET_UNIT, SERVICE_UNIT];
  if (!paths.some(lexists)) {
    removeFiles(paths, o);
    return 0;
  }
  if (o.dryRun) {
    o.out(`would run: ${systemctlLine(disable)}`);
    removeFiles(paths, o);
    o.out(`would run: ${systemctlLine(['daemon-reload'])}`);
    return 0;
  }
  const probe = await probeSystemctl(o.env);
  if (probe.ok) {
    if (!(await runSystemctl([disable], o))) return 1;
    removeFiles(paths, o);
    return (await runSystemctl([['daemon-reload']], o)) ? 0 : 1;
  }
  // No user manager to ask: remove the files and the enablement link `enable` made ourselves,
  // since `systemctl disable` cannot find a unit whose file is already gone.
  removeFiles([...paths, join(dir, 'sockets.target.wants', SOCKET_UNIT)].filter(lexists), o);
  printManual([['stop', SOCKET_UNIT, SERVICE_UNIT], ['daemon-reload']], `no user manager reachable: ${probe.why}`, o);
  return 0;
}

// ---------------------------------------------------------------- launchd (macOS)

function plistPath(env: Env): string {
  return join(home(env), 'Library', 'LaunchAgents', `${LAUNCHD_LABEL}.plist`);
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * A plain agent that launchd starts at login and restarts whenever it exits. Not `Sockets`
 * activation: launchd hands sockets over only through launch_activate_socket(), which Node
 * cannot call, so codexd binds its own socket like any autostarted daemon. The socket path is
 * fixed at install time because an agent's TMPDIR need not be the login shell's, and the
 * default path lives under TMPDIR on macOS.
 */
function desiredPlist(env: Env): Desired {
  const log = join(home(env), 'Library', 'Logs', 'codexd', 'codexd.log');
  // The agent serves the default home: its socket is that home's, whatever CODEX_HOME the installing shell has.
  const args = [process.execPath, DAEMON_MAIN, '--socket', resolveSocketPath(undefined, { ...env, CODEX_HOME: '' })].map((arg) => `    <string>${xml(arg)}</string>`).join('\n');
  const content = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>${LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
${args}
  </array>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <true/>
  <key>Umask</key>
  <integer>63</integer>
  <key>StandardOutPath</key>
  <string>${xml(log)}</string>
  <key>StandardErrorPath</key>
  <string>${xml(log)}</string>
</dict>
</plist>
`;
  return { path: plistPath(env), content };
}

function launchdDomain(): string {
  return `gui/${process.getuid?.() ?? userInfo().uid}`;
}

async function launchctl(args: string[], o: Io, quiet = false): Promise<boolean> {
  const result = await runCommand('launchctl', args, o.env, COMMAND_TIMEOUT_MS);
  if (result.ok) o.out(`ran: launchctl ${args.join(' ')}`);
  else if (!quiet) o.err(`codex-auth: \`launchctl ${args.join(' ')}\` failed (${result.why})`);
  return result.ok;
}

async function installLaunchd(o: Io): Promise<number> {
  const plist = desiredPlist(o.env);
  const logDir = join(home(o.env), 'Library', 'Logs', 'codexd');
  const changed = syncFiles([plist], o);
  const service = `${launchdDomain()}/${LAUNCHD_LABEL}`;
  if (o.dryRun) {
    if (changed) o.out(`would run: launchctl bootout ${service}   (if loaded)`);
    o.out(`would run: launchctl bootstrap ${launchdDomain()} ${plist.path}${changed ? '' : '   (if not loaded)'}`);
    return 0;
  }
  // launchd opens the log file but does not create its folder.
  mkdirSync(logDir, { recursive: true, mode: 0o700 });
  const loaded = (await runCommand('launchctl', ['print', service], o.env, PROBE_TIMEOUT_MS)).ok;
  if (loaded && !changed) {
    o.out(`${LAUNCHD_LABEL} is already loaded`);
    return 0;
  }
  // A loaded agent must be booted out before launchd reads the new plist.
  if (loaded && !(await launchctl(['bootout', service], o))) return 1;
  return (await launchctl(['bootstrap', launchdDomain(), plist.path], o)) ? 0 : 1;
}

async function uninstallLaunchd(o: Io): Promise<number> {
  const path = plistPath(o.env);
  const service = `${launchdDomain()}/${LAUNCHD_LABEL}`;
  if (!lexists(path)) {
    o.out(`absent: ${path}`);
    return 0;
  }
  if (o.dryRun) o.out(`would run: launchctl bootout ${service}   (if loaded)`);
  // Fails when the agent is not loaded, which is fine: there is nothing to stop.
  else await launchctl(['bootout', service], o, true);
  removeFiles([path], o);
  return 0;
}

// ---------------------------------------------------------------- entry points

async function dispatch(opts: ServiceOptions, linux: (o: Io) => Promise<number>, mac: (o: Io) => Promise<number>): Promise<number> {
  const o = io(opts);
  try {
    if (o.platform === 'linux') return await linux(o);
    if (o.platform === 'darwin') return await mac(o);
    o.err(
      o.platform === 'win32'
        ? 'codex-auth: there is no service installer on Windows yet; codex-auth starts codexd on demand'
        : `codex-auth: there is no service installer for ${o.platform} yet; codex-auth starts codexd on demand`,
    );
    return 1;
  } catch (error) {
    o.err(`codex-auth: ${(error as Error).message}`);
    return 1;
  }
}

export async function installService(opts: ServiceOptions): Promise<number> {
  return dispatch(opts, installSystemd, installLaunchd);
}

export async function uninstallService(opts: ServiceOptions): Promise<number> {
  return dispatch(opts, uninstallSystemd, uninstallLaunchd);
}
