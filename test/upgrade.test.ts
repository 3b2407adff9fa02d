// Upgrading in place (docs/protocol.md, "Versions"): a copy of the built package with another
// version in its package.json stands for the codexd that was installed before. A client of this
// version that meets an autostarted daemon of that one restarts it; a daemon started by hand is
// left running, and the client says so in one line, naming both versions, with exit status 2.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { VERSION } from '../shared/version.js';
import { canConnect, cli, daemonPidOf, fileSandbox, killAtEnd, root, waitFor, type CliResult, type Sandbox } from './helpers.js';

const OLD_VERSION = '0.0.9-before-upgrade';
const API_KEY = 'sk-upgrade-test-0000';

/** The built package as installed before the upgrade: its own dist and package.json, the same node_modules. */
function previousInstall(): string {
  const dir = mkdtempSync('/tmp/cxd-pkg-');
  after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true, filter: (source) => !source.startsWith(join(root, 'dist', 'test')) && !source.startsWith(join(root, 'dist', 'bench')) });
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ ...manifest, version: OLD_VERSION }));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function loggedInWithKey(box: Sandbox): void {
  mkdirSync(box.codexHome, { recursive: true, mode: 0o700 });
  writeFileSync(join(box.codexHome, 'auth.json'), JSON.stringify({ OPENAI_API_KEY: API_KEY }), { mode: 0o600 });
}

/** The previous install's codex-auth, to its exit. */
function previousCli(install: string, box: Sandbox, args: string[]): Promise<CliResult> {
  const child = spawn(process.execPath, [join(install, 'dist', 'client', 'cli', 'codex-auth.cjs'), ...args], { env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
  killAtEnd(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('upgrading in place', () => {
  it('an autostarted codexd of the previous version is asked to exit, and the client starts its own', async () => {
    const install = previousInstall();
    const box = fileSandbox();
    loggedInWithKey(box);
    const before = await previousCli(install, box, ['token']);
    assert.deepEqual(before, { code: 0, stdout: `${API_KEY}\n`, stderr: '' }, 'the previous version autostarts its daemon');
    const oldPid = daemonPidOf(box.codexHome, box.env);
    assert.ok(oldPid !== null && alive(oldPid));

    const token = await cli(box, ['token']);
    assert.deepEqual(token, { code: 0, stdout: `${API_KEY}\n`, stderr: '' });
    assert.equal(alive(oldPid), false, 'the old daemon exited');
    const status = JSON.parse((await cli(box, ['daemon', 'status', '--json'])).stdout) as { pid: number; version: string };
    assert.equal(status.version, VERSION);
    assert.notEqual(status.pid, oldPid);
  });

  it('a codexd of the previous version started by hand keeps running; the client says which versions and how to restart it (exit 2)', async () => {
    const install = previousInstall();
    const box = fileSandbox();
    loggedInWithKey(box);
    const daemon = spawn(process.execPath, [join(install, 'dist', 'daemon', 'codexd.cjs'), '--log-file', box.logFile], { env: box.env, stdio: 'ignore' });
    killAtEnd(daemon);
    await waitFor(() => canConnect(box.socket), 'the previous version to listen');

    for (const args of [['token'], ['status']]) {
      const refused = await cli(box, args);
      assert.equal(refused.code, 2, args.join(' '));
      assert.equal(refused.stdout, '');
      assert.equal(
        refused.stderr,
        `codex-auth: codexd ${OLD_VERSION} (protocol 2) is running on ${box.socket}, but this client is codexd ${VERSION} (protocol 2); restart it: stop it (Ctrl-C where it runs, or \`codex-auth daemon stop\`) and start it again\n`,
      );
    }
    assert.equal(daemon.exitCode, null, 'still running');
    // The daemon's own commands take any version: it can be stopped, and the next client starts this one.
    assert.match((await cli(box, ['daemon', 'stop'])).stdout, /^codexd stopped/);
    assert.deepEqual(await cli(box, ['token']), { code: 0, stdout: `${API_KEY}\n`, stderr: '' });
  });
});
