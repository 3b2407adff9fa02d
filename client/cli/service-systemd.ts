// `codex-auth service` on Linux: the systemd user units from the package's systemd/ folder
// (socket activation).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { systemdSocketUnitPath } from '../autostart.js';
import { COMMAND_TIMEOUT_MS, DAEMON_MAIN, type Desired, type Env, type Io, lexists, PROBE_TIMEOUT_MS, prepareForService, removeFiles, runCommand, type RunResult, syncFiles } from './service-files.js';

// Relative to the compiled dist/client/cli/service-systemd.js.
const TEMPLATES = new URL('../../../systemd/', import.meta.url);

const SOCKET_UNIT = 'codexd.socket';
/** The restricted socket's unit (docs/remote.md); its fd goes to the same service. */
const RESTRICTED_SOCKET_UNIT = 'codexd-restricted.socket';
const SOCKET_UNITS = [SOCKET_UNIT, RESTRICTED_SOCKET_UNIT];
const SERVICE_UNIT = 'codexd.service';

function systemdUserDir(env: Env): string {
  return dirname(systemdSocketUnitPath(env));
}

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
  return [...SOCKET_UNITS, SERVICE_UNIT].map((name) => ({
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

export async function installSystemd(o: Io): Promise<number> {
  if (!existsSync(DAEMON_MAIN)) {
    o.err(`codex-auth: codexd is not built: ${DAEMON_MAIN} is missing`);
    return 1;
  }
  // Units that cannot be enabled would only make clients wait for a socket nobody listens on.
  const probe = o.dryRun ? null : await probeSystemctl(o.env);
  if (probe && !probe.ok) {
    o.err(
      `codex-auth: no systemd user manager is reachable (${probe.why}), so nothing was installed and codex-auth keeps starting codexd on demand; ` +
        'run codex-auth service install again in a session that has one (for a user without a login session: loginctl enable-linger)',
    );
    return 1;
  }
  const units = desiredUnits(o.env);
  const serviceExisted = existsSync(join(systemdUserDir(o.env), SERVICE_UNIT));
  const changed = syncFiles(units, o);
  prepareForService(o);

  const enable = ['enable', '--now', ...SOCKET_UNITS];
  const commands = changed ? [['daemon-reload'], enable] : [enable];
  if (o.dryRun) {
    for (const args of commands) o.out(`would run: ${systemctlLine(args)}${changed ? '' : `   (only if neither socket is enabled yet)`}`);
    return 0;
  }
  if (!changed) {
    // True when either is enabled: a restricted socket the user disabled stays disabled.
    const enabled = await runCommand(systemctlBinary(o.env), ['--user', 'is-enabled', '--quiet', ...SOCKET_UNITS], o.env, PROBE_TIMEOUT_MS);
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

export async function uninstallSystemd(o: Io): Promise<number> {
  const dir = systemdUserDir(o.env);
  const paths = [...SOCKET_UNITS, SERVICE_UNIT].map((name) => join(dir, name));
  const disable = ['disable', '--now', ...SOCKET_UNITS, SERVICE_UNIT];
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
  removeFiles([...paths, ...SOCKET_UNITS.map((name) => join(dir, 'sockets.target.wants', name))].filter(lexists), o);
  printManual([['stop', ...SOCKET_UNITS, SERVICE_UNIT], ['daemon-reload']], `no user manager reachable: ${probe.why}`, o);
  return 0;
}
