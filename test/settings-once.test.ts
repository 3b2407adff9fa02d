// The settings file is read once per process (issue 20 item 4), counted with strace: a cold
// `codex-auth token` (which starts codexd), a warm one, and the daemon itself each open
// config.json once, whatever number of settings they look up.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { canConnect, cli, cliBin, codexdBin, fileSandbox, killAtEnd, straceProblem, waitFor, type Sandbox } from './helpers.js';

const TRACE = ['-qq', '-e', 'trace=openat'];
const problem = straceProblem(TRACE);

/** Runs node `argv` under strace (`follow`: its children too) to its exit; resolves with the exit status. */
function traced(box: Sandbox, file: string, argv: string[], follow = false): { exited: Promise<number | null> } {
  const child = spawn('strace', [...(follow ? ['-f'] : []), ...TRACE, '-o', file, process.execPath, ...argv], { env: box.env, stdio: 'ignore' });
  killAtEnd(child);
  return { exited: new Promise((resolve) => child.once('exit', resolve)) };
}

function opensOf(trace: string, file: string): number {
  return readFileSync(trace, 'utf8').split('\n').filter((line) => line.includes(`"${file}"`) && !line.includes('ENOENT')).length;
}

describe('the settings file', { skip: problem ?? false }, () => {
  it('is opened once by a cold codex-auth token, once by the daemon it starts, and once by a warm one', async () => {
    const box = fileSandbox();
    const settings = join(box.env['XDG_CONFIG_HOME']!, 'codexd', 'config.json');
    mkdirSync(join(box.env['XDG_CONFIG_HOME']!, 'codexd'), { recursive: true, mode: 0o700 });
    writeFileSync(settings, JSON.stringify({ LOG_LEVEL: 'debug', REFRESH_MARGIN_S: 600 }), { mode: 0o600 });
    mkdirSync(box.codexHome, { recursive: true, mode: 0o700 });
    writeFileSync(join(box.codexHome, 'auth.json'), JSON.stringify({ OPENAI_API_KEY: 'sk-settings-once' }), { mode: 0o600 });

    const cold = join(box.dir, 'cold.trace');
    assert.equal(await traced(box, cold, [cliBin, 'token']).exited, 0);
    assert.equal(opensOf(cold, settings), 1, 'a cold codex-auth token');
    assert.equal((await cli(box, ['daemon', 'stop'])).code, 0);

    const daemonTrace = join(box.dir, 'daemon.trace');
    const daemon = traced(box, daemonTrace, [codexdBin, '--log-file', box.logFile], true);
    await waitFor(() => canConnect(box.socket), 'codexd under strace to listen');
    const warm = join(box.dir, 'warm.trace');
    assert.equal(await traced(box, warm, [cliBin, 'token']).exited, 0);
    assert.equal(opensOf(warm, settings), 1, 'a warm codex-auth token');
    assert.equal((await cli(box, ['daemon', 'stop'])).code, 0);
    await daemon.exited;
    assert.equal(opensOf(daemonTrace, settings), 1, 'the daemon');
  });
});
