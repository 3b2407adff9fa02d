// `codex-auth service` on macOS: a launchd agent generated here.
import { mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { resolveSocketPath } from '../../shared/paths.js';
import { DAEMON_NODE_FLAGS } from '../autostart.js';
import { COMMAND_TIMEOUT_MS, DAEMON_MAIN, type Desired, type Env, home, type Io, lexists, PROBE_TIMEOUT_MS, removeFiles, runCommand, syncFiles } from './service-files.js';

const LAUNCHD_LABEL = 'dev.codexd.agent';

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
export function desiredPlist(env: Env): Desired {
  const log = join(home(env), 'Library', 'Logs', 'codexd', 'codexd.log');
  // The agent serves the default home: its socket is that home's, whatever CODEX_HOME the installing shell has.
  const args = [process.execPath, ...DAEMON_NODE_FLAGS, DAEMON_MAIN, '--socket', resolveSocketPath(undefined, { ...env, CODEX_HOME: '' })].map((arg) => `    <string>${xml(arg)}</string>`).join('\n');
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

export async function installLaunchd(o: Io): Promise<number> {
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

export async function uninstallLaunchd(o: Io): Promise<number> {
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
