// Tests build the environment of every process they start (test/hermetic.ts): a caller who
// exports CODEX_HOME, codexd's settings, a proxy or NODE_OPTIONS, as many Codex users do, gets
// the same results. Checked by running suites that start daemons, autostart them and assert exact
// output, under such an environment.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { root } from './helpers.js';

/** Suites with exact output, autostart, and in-process clients. */
const SUITES = ['logout.test.js', 'token-command.test.js'];

describe('the tests are hermetic', () => {
  it(`${SUITES.join(' and ')} pass with CODEX_HOME, CODEXD_*, proxies and NODE_OPTIONS exported by the caller`, { timeout: 300_000 }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'cxd-hermetic-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // Whatever Node runs with NODE_OPTIONS writes a line to stderr: any CLI or daemon that kept it shows it.
    const noisy = join(dir, 'noisy.cjs');
    writeFileSync(noisy, 'process.stderr.write("NODE_OPTIONS came from the caller\\n");\n');
    const { NODE_TEST_CONTEXT: _nested, ...ours } = process.env; // else the runner below takes itself for one of ours
    const env = {
      ...ours,
      CODEX_HOME: join(dir, 'callers-codex-home'),
      CODEXD_SOCKET: join(dir, 'callers.sock'),
      CODEXD_ISSUER: 'http://127.0.0.1:9',
      CODEXD_LOG_LEVEL: 'silent',
      CODEXD_NO_AUTOSTART: '1',
      CODEXD_REFRESH_MARGIN_S: '86400',
      HTTPS_PROXY: 'http://127.0.0.1:9',
      HTTP_PROXY: 'http://127.0.0.1:9',
      NODE_OPTIONS: `--require ${noisy}`,
    };
    const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...SUITES.map((suite) => join(root, 'dist', 'test', suite))], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    const failed = output.split('\n').filter((line) => /^\s*not ok /.test(line));
    assert.equal(code, 0, `failed under the caller's environment:\n${failed.join('\n')}`);
    assert.match(output, /^# pass [1-9]/m, output.slice(-2000));
  });
});
