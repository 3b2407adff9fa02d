// test/system-deps.sh, which CI runs first: it installs only what is missing (and runs no apt at
// all when nothing is), and waits for another apt or dpkg instead of failing on its lock. Run
// against stand-ins for dpkg-query, apt-get and sudo that record how they were called.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { root } from './helpers.js';

/** Runs the script with `installed` the only packages dpkg knows; returns apt-get's calls, one per line. */
function run(installed: string[]): { status: number | null; aptCalls: string[]; output: string } {
  const bin = mkdtempSync(join(tmpdir(), 'cxd-deps-'));
  try {
    const calls = join(bin, 'apt-calls');
    writeFileSync(calls, '');
    const stub = (name: string, body: string): void => {
      writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
      chmodSync(join(bin, name), 0o755);
    };
    stub('dpkg-query', `for a; do package=$a; done; for p in ${installed.join(' ')}; do [ "$package" = "$p" ] && { printf 'install ok installed'; exit 0; }; done; exit 1`);
    stub('apt-get', `echo "$*" >> ${calls}`);
    stub('sudo', 'exec "$@"');
    const result = spawnSync('bash', [join(root, 'test', 'system-deps.sh')], { env: { PATH: `${bin}:/usr/bin:/bin` }, encoding: 'utf8' });
    return { status: result.status, aptCalls: readFileSync(calls, 'utf8').split('\n').filter(Boolean), output: result.stdout + result.stderr };
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
}

const ALL = ['chromium', 'util-linux', 'systemd', 'faketime', 'procps', 'openssl', 'openssh-server', 'openssh-client', 'strace', 'dbus', 'gnome-keyring', 'libsecret-tools'];

describe('test/system-deps.sh', () => {
  it('runs no apt at all when every package is installed', () => {
    const { status, aptCalls, output } = run(ALL);
    assert.equal(status, 0, output);
    assert.deepEqual(aptCalls, []);
  });

  it("installs only what is missing, and waits for apt's lock", () => {
    const { status, aptCalls, output } = run(ALL.filter((p) => p !== 'strace' && p !== 'faketime'));
    assert.equal(status, 0, output);
    assert.deepEqual(aptCalls, ['-o DPkg::Lock::Timeout=600 update', '-o DPkg::Lock::Timeout=600 install -y --no-install-recommends faketime strace']);
  });
});
