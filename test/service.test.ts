// `codex-auth service install|uninstall`: the systemd user units, written for this install,
// idempotently, with systemctl stood in for by a script that records its arguments.
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { installService, systemdExecWord, systemdSocketUnitPath, uninstallService } from '../client/cli/service.js';
import { desiredPlist } from '../client/cli/service-launchd.js';
import { DAEMON_NODE_FLAGS, systemdOwnsSocket } from '../client/autostart.js';
import { defaultCodexHome, defaultSocketPath } from '../shared/paths.js';
import { cliBin as CLI } from './helpers.js';

const DAEMON_MAIN = fileURLToPath(new URL('../daemon/codexd.cjs', import.meta.url));
const TEMPLATES = fileURLToPath(new URL('../../systemd/', import.meta.url));

interface Sandbox {
  root: string;
  home: string;
  config: string;
  unitDir: string;
  calls: string;
  env: NodeJS.ProcessEnv;
}

/** A HOME and XDG_CONFIG_HOME of its own, and a fake systemctl that appends its argv to a file. */
function sandbox(t: TestContext): Sandbox {
  const root = mkdtempSync(join(tmpdir(), 'codexd-service-'));
  t.after(() => rmSync(root, { recursive: true, force: true }));
  const home = join(root, 'home');
  mkdirSync(home);
  const config = join(root, 'config'); // left missing: install must create it 0700
  const calls = join(root, 'systemctl-calls');
  const fake = join(root, 'fake-systemctl');
  writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$*" >> '${calls}'\nexit 0\n`);
  chmodSync(fake, 0o755);
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, XDG_CONFIG_HOME: config, CODEXD_SYSTEMCTL: fake, CODEXD_NO_AUTOSTART: '1' };
  delete env['CODEX_HOME'];
  return { root, home, config, unitDir: join(config, 'systemd', 'user'), calls, env };
}

function systemctlCalls(box: Sandbox): string[] {
  return existsSync(box.calls) ? readFileSync(box.calls, 'utf8').split('\n').filter(Boolean) : [];
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'service', ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/** The service functions called directly, with their output captured. */
async function direct(fn: typeof installService, env: NodeJS.ProcessEnv, extra: { dryRun?: boolean; platform?: NodeJS.Platform } = {}): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await fn({ dryRun: extra.dryRun ?? false, out: (l) => out.push(l), err: (l) => err.push(l), env, ...(extra.platform ? { platform: extra.platform } : {}) });
  return { code, stdout: out.map((l) => `${l}\n`).join(''), stderr: err.map((l) => `${l}\n`).join('') };
}

function fileIdentity(path: string): string {
  const s = statSync(path);
  return `${s.ino}:${s.mtimeMs}`;
}

/** A unit file as section -> key -> values (a key may repeat); comments and blank lines dropped. */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header?.[1]) {
      current = new Map();
      sections.set(header[1], current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current && eq > 0, `stray line in unit: ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

function value(unit: Map<string, Map<string, string[]>>, section: string, key: string): string | undefined {
  return unit.get(section)?.get(key)?.at(-1);
}

/** Splits an ExecStart= value into words the way systemd does for the quoting we produce. */
function execWords(line: string): string[] {
  const words: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    const word = m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : (m[2] ?? '');
    words.push(word.replace(/%%/g, '%').replace(/\$\$/g, '$'));
  }
  return words;
}

function linuxOnly(t: TestContext): boolean {
  if (process.platform !== 'linux') {
    t.skip(`systemd user units are Linux-only (this is ${process.platform})`);
    return false;
  }
  return true;
}

test('codex-auth service install/uninstall: dry run, install, idempotent re-install, uninstall, no-op uninstall', async (t) => {
  if (!linuxOnly(t)) return;
  if (!existsSync(CLI)) {
    t.skip(`the CLI entry ${CLI} is not built yet`);
    return;
  }
  const box = sandbox(t);
  const socketUnit = join(box.unitDir, 'codexd.socket');
  const restrictedUnit = join(box.unitDir, 'codexd-restricted.socket');
  const serviceUnit = join(box.unitDir, 'codexd.service');
  assert.equal(systemdSocketUnitPath(box.env), socketUnit);

  // --dry-run: says what it would do, touches nothing, runs nothing.
  const dry = await cli(['install', '--dry-run'], box.env);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, new RegExp(`would write: ${socketUnit}`));
  assert.match(dry.stdout, new RegExp(`would write: ${restrictedUnit}`));
  assert.match(dry.stdout, new RegExp(`would write: ${serviceUnit}`));
  assert.match(dry.stdout, /would run: systemctl --user daemon-reload/);
  assert.match(dry.stdout, /would run: systemctl --user enable --now codexd\.socket codexd-restricted\.socket/);
  assert.equal(existsSync(box.config), false, 'dry run created the config folder');
  assert.equal(existsSync(join(box.home, '.codex')), false, 'dry run created ~/.codex');
  assert.deepEqual(systemctlCalls(box), []);

  // First install: writes both units with this install's paths, folders 0700, enables the socket.
  const first = await cli(['install'], box.env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`wrote: ${socketUnit}`));
  assert.match(first.stdout, new RegExp(`wrote: ${restrictedUnit}`));
  assert.match(first.stdout, new RegExp(`wrote: ${serviceUnit}`));
  for (const dir of [box.config, join(box.config, 'systemd'), box.unitDir, join(box.home, '.codex')]) {
    assert.equal(statSync(dir).mode & 0o777, 0o700, `${dir} mode`);
  }
  const service = parseUnit(readFileSync(serviceUnit, 'utf8'));
  // The unit starts the daemon with the Node flags autostart uses.
  assert.deepEqual(execWords(value(service, 'Service', 'ExecStart') ?? ''), [process.execPath, ...DAEMON_NODE_FLAGS, DAEMON_MAIN]);
  assert.ok(existsSync(process.execPath) && existsSync(DAEMON_MAIN), 'ExecStart names files that exist');
  assert.doesNotMatch(readFileSync(serviceUnit, 'utf8'), /@NODE@|@CODEXD@/);
  const calls = systemctlCalls(box);
  assert.ok(calls.includes('--user daemon-reload'), calls.join(' | '));
  assert.ok(calls.includes('--user enable --now codexd.socket codexd-restricted.socket'), calls.join(' | '));
  assert.ok(calls.indexOf('--user daemon-reload') < calls.indexOf('--user enable --now codexd.socket codexd-restricted.socket'), 'daemon-reload comes first');

  // Second install: nothing changes, nothing is rewritten, systemctl is not asked to change anything.
  const before = [fileIdentity(socketUnit), fileIdentity(serviceUnit)];
  const callsBefore = calls.length;
  const second = await cli(['install'], box.env);
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, new RegExp(`unchanged: ${socketUnit}`));
  assert.match(second.stdout, new RegExp(`unchanged: ${serviceUnit}`));
  assert.doesNotMatch(second.stdout, /wrote:/);
  assert.deepEqual([fileIdentity(socketUnit), fileIdentity(serviceUnit)], before);
  const secondCalls = systemctlCalls(box).slice(callsBefore);
  assert.ok(!secondCalls.some((c) => c.includes('daemon-reload') || c.includes('enable --now')), secondCalls.join(' | '));

  // Uninstall --dry-run: removes nothing, disables nothing.
  const dryUninstall = await cli(['uninstall', '--dry-run'], box.env);
  assert.equal(dryUninstall.code, 0, dryUninstall.stderr);
  assert.match(dryUninstall.stdout, new RegExp(`would remove: ${socketUnit}`));
  assert.match(dryUninstall.stdout, /would run: systemctl --user disable --now codexd\.socket codexd-restricted\.socket codexd\.service/);
  assert.ok(existsSync(socketUnit) && existsSync(serviceUnit));
  assert.ok(!systemctlCalls(box).some((c) => c.includes('disable')));

  // Uninstall: disables, removes both files, reloads.
  const callsBeforeUninstall = systemctlCalls(box).length;
  const removed = await cli(['uninstall'], box.env);
  assert.equal(removed.code, 0, removed.stderr);
  assert.match(removed.stdout, new RegExp(`removed: ${socketUnit}`));
  assert.match(removed.stdout, new RegExp(`removed: ${restrictedUnit}`));
  assert.match(removed.stdout, new RegExp(`removed: ${serviceUnit}`));
  assert.ok(!existsSync(socketUnit) && !existsSync(restrictedUnit) && !existsSync(serviceUnit));
  const uninstallCalls = systemctlCalls(box).slice(callsBeforeUninstall);
  assert.ok(uninstallCalls.includes('--user disable --now codexd.socket codexd-restricted.socket codexd.service'), uninstallCalls.join(' | '));
  assert.ok(uninstallCalls.indexOf('--user disable --now codexd.socket codexd-restricted.socket codexd.service') < uninstallCalls.indexOf('--user daemon-reload'));

  // A second uninstall is a no-op.
  const callsBeforeAgain = systemctlCalls(box).length;
  const again = await cli(['uninstall'], box.env);
  assert.equal(again.code, 0, again.stderr);
  assert.match(again.stdout, new RegExp(`absent: ${socketUnit}`));
  assert.match(again.stdout, new RegExp(`absent: ${serviceUnit}`));
  assert.equal(systemctlCalls(box).length, callsBeforeAgain);
});

test('installService/uninstallService called directly: same lifecycle', async (t) => {
  if (!linuxOnly(t)) return;
  const box = sandbox(t);
  const dry = await direct(installService, box.env, { dryRun: true });
  assert.equal(dry.code, 0);
  assert.equal(existsSync(box.config), false);

  const first = await direct(installService, box.env);
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /wrote: .*codexd\.socket/);
  assert.deepEqual(
    systemctlCalls(box).filter((c) => !/show-environment|is-enabled/.test(c)),
    ['--user daemon-reload', '--user enable --now codexd.socket codexd-restricted.socket'],
  );

  const second = await direct(installService, box.env);
  assert.equal(second.code, 0, second.stderr);
  assert.equal((second.stdout.match(/^unchanged: /gm) ?? []).length, 3);
  assert.equal(systemctlCalls(box).filter((c) => /daemon-reload|enable --now/.test(c)).length, 2);

  // A changed unit (here: edited by hand) is rewritten and reloaded even though the socket is enabled.
  const socketUnit = systemdSocketUnitPath(box.env);
  writeFileSync(socketUnit, '# edited\n');
  const repaired = await direct(installService, box.env);
  assert.equal(repaired.code, 0, repaired.stderr);
  assert.match(repaired.stdout, new RegExp(`wrote: ${socketUnit}`));
  assert.equal(systemctlCalls(box).filter((c) => c === '--user daemon-reload').length, 2);

  const removed = await direct(uninstallService, box.env);
  assert.equal(removed.code, 0, removed.stderr);
  assert.ok(!existsSync(socketUnit));
  assert.ok(systemctlCalls(box).includes('--user disable --now codexd.socket codexd-restricted.socket codexd.service'));
  const count = systemctlCalls(box).length;
  const again = await direct(uninstallService, box.env);
  assert.equal(again.code, 0);
  assert.equal(systemctlCalls(box).length, count);
});

test('without a reachable user manager, install fails in one line and writes nothing; autostart stands aside only for an enabled unit', async (t) => {
  if (!linuxOnly(t)) return;
  const box = sandbox(t);
  const env = { ...box.env, CODEXD_SYSTEMCTL: join(box.root, 'no-such-systemctl') };
  const failed = await direct(installService, env);
  assert.equal(failed.code, 1, failed.stdout + failed.stderr);
  assert.match(failed.stderr, /^codex-auth: no systemd user manager is reachable \(.+\), so nothing was installed and codex-auth keeps starting codexd on demand; run codex-auth service install again in a session that has one/);
  assert.equal(failed.stderr.split('\n').length, 2, `one line: ${failed.stderr}`);
  assert.equal(failed.stdout, '');
  assert.ok(!existsSync(systemdSocketUnitPath(env)), 'no unit file that nothing enabled');

  // Unit files left by an install that could not enable them (as before this fix) do not stop autostart.
  const installed = await direct(installService, box.env);
  assert.equal(installed.code, 0, installed.stderr);
  const session = { ...env, XDG_RUNTIME_DIR: join(box.root, 'run') }; // where systemd would own the default socket
  const socket = defaultSocketPath(session, 'linux', defaultCodexHome({}));
  const wants = join(box.unitDir, 'sockets.target.wants');
  rmSync(wants, { recursive: true, force: true });
  assert.equal(systemdOwnsSocket(socket, session), false, 'not enabled: autostart goes ahead');

  // Uninstall also removes the link `systemctl enable` would have made, since nobody can disable it now.
  mkdirSync(wants);
  for (const unit of ['codexd.socket', 'codexd-restricted.socket']) symlinkSync(join(box.unitDir, unit), join(wants, unit));
  assert.equal(systemdOwnsSocket(socket, session), true, 'enabled: systemd owns the socket');
  const removed = await direct(uninstallService, env);
  assert.equal(removed.code, 0, removed.stderr);
  assert.ok(!existsSync(systemdSocketUnitPath(env)));
  assert.match(removed.stdout, new RegExp(`removed: ${join(wants, 'codexd.socket')}`));
  assert.match(removed.stdout, new RegExp(`removed: ${join(wants, 'codexd-restricted.socket')}`));
  assert.match(removed.stdout, /^ {2}systemctl --user stop codexd\.socket codexd-restricted\.socket codexd\.service$/m);
});

test('Windows dry run prints the logon task and the schtasks commands; macOS dry run names the launchd agent', async (t) => {
  const box = sandbox(t);
  const local = join(box.home, 'AppData', 'Local');
  const winEnv = { ...box.env, LOCALAPPDATA: local, USERNAME: 'alice', USERDOMAIN: 'PC' };
  const windows = await direct(installService, winEnv, { platform: 'win32', dryRun: true });
  assert.equal(windows.code, 0, windows.stderr);
  const file = join(local, 'codexd', 'codexd-task.xml');
  assert.match(windows.stdout, new RegExp(`^would write: ${file}$`, 'm'));
  assert.match(windows.stdout, /<LogonTrigger>\s*<Enabled>true<\/Enabled>\s*<UserId>PC\\alice<\/UserId>/);
  assert.match(windows.stdout, /<LogonType>InteractiveToken<\/LogonType>\s*<RunLevel>LeastPrivilege<\/RunLevel>/);
  assert.match(windows.stdout, /<Arguments>&quot;.*codex-auth\.cjs&quot; daemon start<\/Arguments>/);
  assert.match(windows.stdout, new RegExp(`^would run: schtasks /Create /TN codexd-alice /XML ${file} /F$`, 'm'));
  assert.match(windows.stdout, /^would run: schtasks \/Run \/TN codexd-alice$/m);
  assert.equal(existsSync(local), false, 'dry run wrote nothing');
  const gone = await direct(uninstallService, winEnv, { platform: 'win32', dryRun: true });
  assert.equal(gone.code, 0, gone.stderr);
  assert.match(gone.stdout, /^would run: schtasks \/Delete \/TN codexd-alice \/F$/m);

  const mac = await direct(installService, box.env, { platform: 'darwin', dryRun: true });
  assert.equal(mac.code, 0, mac.stderr);
  assert.match(mac.stdout, new RegExp(`would write: ${join(box.home, 'Library', 'LaunchAgents', 'dev.codexd.agent.plist')}`));
  assert.match(mac.stdout, /would run: launchctl bootstrap gui\/\d+ /);
  const plist = desiredPlist(box.env).content;
  const programArguments = [...(/<key>ProgramArguments<\/key>\s*<array>([\s\S]*?)<\/array>/.exec(plist)?.[1] ?? '').matchAll(/<string>(.*)<\/string>/g)].map((m) => m[1]);
  assert.deepEqual(programArguments.slice(0, -2), [process.execPath, ...DAEMON_NODE_FLAGS, DAEMON_MAIN], 'the agent starts codexd with the Node flags autostart uses');
  assert.equal(existsSync(join(box.home, 'Library')), false, 'dry run wrote nothing');
});

test('ExecStart words: quoting and specifier escapes', () => {
  assert.equal(systemdExecWord('/usr/bin/node'), '/usr/bin/node');
  assert.equal(systemdExecWord('/opt/my apps/node'), '"/opt/my apps/node"');
  assert.equal(systemdExecWord('/x/50%/node'), '"/x/50%%/node"');
  assert.equal(systemdExecWord('/x/$HOME/node'), '"/x/$$HOME/node"');
  assert.equal(systemdExecWord('/x/a"b\\c'), '"/x/a\\"b\\\\c"');
  assert.throws(() => systemdExecWord('/x/a\nb'), /control characters/);
  for (const word of ['/opt/my apps/node', '/x/50%/node', '/x/$HOME/node', '/x/a"b\\c']) {
    assert.deepEqual(execWords(systemdExecWord(word)), [word]);
  }
});

test('units: the keys that matter, and every directive justified by a comment', async (t) => {
  if (!linuxOnly(t)) return;
  const box = sandbox(t);
  assert.equal((await direct(installService, box.env)).code, 0);
  const socketText = readFileSync(join(box.unitDir, 'codexd.socket'), 'utf8');
  const serviceText = readFileSync(join(box.unitDir, 'codexd.service'), 'utf8');
  const socket = parseUnit(socketText);
  const service = parseUnit(serviceText);

  assert.equal(value(socket, 'Socket', 'ListenStream'), '%t/codexd/codexd.sock');
  assert.equal(value(socket, 'Socket', 'SocketMode'), '0600');
  assert.equal(value(socket, 'Socket', 'DirectoryMode'), '0700');
  assert.equal(value(socket, 'Socket', 'FileDescriptorName'), 'codexd');
  assert.equal(value(socket, 'Install', 'WantedBy'), 'sockets.target');

  const restricted = parseUnit(readFileSync(join(box.unitDir, 'codexd-restricted.socket'), 'utf8'));
  assert.equal(value(restricted, 'Socket', 'ListenStream'), '%t/codexd/codexd.restricted.sock');
  assert.equal(value(restricted, 'Socket', 'SocketMode'), '0600');
  assert.equal(value(restricted, 'Socket', 'DirectoryMode'), '0700');
  assert.equal(value(restricted, 'Socket', 'FileDescriptorName'), 'codexd-restricted');
  assert.equal(value(restricted, 'Socket', 'Service'), 'codexd.service');
  assert.equal(value(restricted, 'Install', 'WantedBy'), 'sockets.target');

  assert.equal(value(service, 'Unit', 'Requires'), 'codexd.socket');
  assert.equal(value(service, 'Unit', 'After'), 'codexd.socket codexd-restricted.socket');
  assert.equal(value(service, 'Service', 'Restart'), 'on-failure');
  const words = execWords(value(service, 'Service', 'ExecStart') ?? '').filter((w) => !w.startsWith('--'));
  assert.equal(words.length, 2);
  assert.ok(words.every((w) => isAbsolute(w)), `ExecStart programs are absolute: ${words.join(' ')}`);
  assert.equal(value(service, 'Service', 'UMask'), '0077');
  assert.equal(value(service, 'Service', 'ProtectSystem'), 'strict');
  assert.equal(value(service, 'Service', 'NoNewPrivileges'), 'yes');
  assert.equal(value(service, 'Service', 'PrivateTmp'), 'yes');
  assert.equal(value(service, 'Service', 'ReadWritePaths'), '-%h/.codex -%S/codexd');
  assert.equal(value(service, 'Service', 'RestrictAddressFamilies'), 'AF_UNIX AF_INET AF_INET6');
  assert.equal(service.get('Service')?.has('MemoryDenyWriteExecute'), false, 'V8 needs W+X memory');
  assert.match(serviceText, /#.*MemoryDenyWriteExecute/);
  assert.match(serviceText, /systemctl --user edit codexd\.service/);

  // The templates themselves: each directive sits right under a comment that says why.
  for (const name of ['codexd.socket', 'codexd-restricted.socket', 'codexd.service']) {
    const lines = readFileSync(join(TEMPLATES, name), 'utf8').split('\n');
    lines.forEach((line, i) => {
      if (/^[A-Za-z]+=/.test(line)) assert.match(lines[i - 1] ?? '', /^#/, `${name}:${i + 1} ${line} has no comment above it`);
    });
  }
});

// Messages that come from this machine rather than from the units (no user session in a container).
const ENVIRONMENT_MESSAGES = /Failed to (initialize manager|lookup RuntimeDirectory path|connect to bus)|No medium found/;

function analyze(args: string[], env: NodeJS.ProcessEnv): Promise<Run & { missing: boolean }> {
  return new Promise((resolve) => {
    execFile('systemd-analyze', args, { env, timeout: 60_000 }, (error, stdout, stderr) => {
      const missing = (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr), missing });
    });
  });
}

test('systemd-analyze verify accepts the installed units (and a path that needs quoting)', async (t) => {
  if (!linuxOnly(t)) return;
  const box = sandbox(t);
  assert.equal((await direct(installService, box.env)).code, 0);
  const socketUnit = join(box.unitDir, 'codexd.socket');
  const serviceUnit = join(box.unitDir, 'codexd.service');

  // A node path with a space and a %, to check the quoting and escaping systemd actually sees.
  const oddDir = join(box.root, 'odd', 'my node 100%');
  mkdirSync(oddDir, { recursive: true });
  symlinkSync(process.execPath, join(oddDir, 'node'));
  const oddRoot = join(box.root, 'odd-units');
  mkdirSync(oddRoot);
  writeFileSync(join(oddRoot, 'codexd.socket'), readFileSync(socketUnit));
  writeFileSync(join(oddRoot, 'codexd-restricted.socket'), readFileSync(join(box.unitDir, 'codexd-restricted.socket')));
  writeFileSync(
    join(oddRoot, 'codexd.service'),
    readFileSync(serviceUnit, 'utf8').replace(/^ExecStart=.*$/m, `ExecStart=${systemdExecWord(join(oddDir, 'node'))} ${systemdExecWord(DAEMON_MAIN)}`),
  );

  // verify --user needs $XDG_RUNTIME_DIR; a container without a login session has none.
  const runtime = join(box.root, 'runtime');
  mkdirSync(runtime, { mode: 0o700 });
  const env = { ...box.env, XDG_RUNTIME_DIR: box.env['XDG_RUNTIME_DIR'] || runtime };

  for (const dir of [box.unitDir, oddRoot]) {
    const units = ['codexd.socket', 'codexd-restricted.socket', 'codexd.service'].map((name) => join(dir, name));
    const service = units[2]!;
    let result = await analyze(['verify', '--user', ...units], env);
    if (result.missing) {
      t.skip('systemd-analyze is not installed');
      return;
    }
    if (result.code !== 0 && ENVIRONMENT_MESSAGES.test(result.stderr)) {
      // No user manager can be set up here: verify as a system unit instead (same parser and checks).
      t.diagnostic(`verify --user unavailable here (${result.stderr.trim().split('\n')[0]}); verifying without --user`);
      result = await analyze(['verify', ...units], env);
    }
    const complaints = result.stderr.split('\n').filter((l) => l.trim() && !ENVIRONMENT_MESSAGES.test(l));
    assert.deepEqual(complaints, [], `systemd-analyze verify ${service}`);
    assert.equal(result.code, 0, result.stderr);
  }
});
