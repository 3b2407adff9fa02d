// The codexd bin runs its bundle (codexd-main.cjs) from V8's code cache: the first daemon of a
// build writes the cache when it exits, and later starts compile from it (docs/performance.md,
// "Issue 20's goals"). A cache V8 refuses, such as one written after a V8 flag changed, would be
// written again at every exit and never used.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { rawCall, sandbox, startDaemon } from './helpers.js';

describe('the codexd bin', () => {
  it('writes its code cache when the first daemon exits, and the next start runs from it without writing it again', async (t) => {
    const box = sandbox();
    t.after(() => box.cleanup());
    const caches = join(box.env['HOME']!, '.cache', 'codexd');
    const serves = async (): Promise<void> => {
      const daemon = await startDaemon(box);
      assert.equal((await rawCall(box.socket, 'initialize')).result !== undefined, true);
      assert.equal(await daemon.stop(), 0);
    };

    await serves();
    const [cache, ...more] = readdirSync(caches);
    assert.ok(cache?.startsWith('codexd-main.cjs-') && more.length === 0, `one code cache: ${readdirSync(caches).join(', ')}`);
    assert.equal(statSync(caches).mode & 0o777, 0o700);
    assert.equal(statSync(join(caches, cache)).mode & 0o777, 0o600);
    const written = statSync(join(caches, cache)).mtimeMs;

    await serves();
    assert.equal(statSync(join(caches, cache)).mtimeMs, written, 'the second start ran from the cache');

    // A cache V8 refuses just means compiling, and a good one is written at the next exit.
    writeFileSync(join(caches, cache), Buffer.alloc(4096, 7));
    await serves();
    assert.notEqual(statSync(join(caches, cache)).size, 4096);
  });

  it('serves without loading what only pino\'s transports need (node:module, node:worker_threads), and logs', async (t) => {
    const box = sandbox();
    t.after(() => box.cleanup());
    // Watches from inside the daemon's process: the built-in modules it loaded, written at its exit.
    const loaded = join(box.dir, 'loaded.txt');
    const probe = join(box.dir, 'probe.cjs');
    writeFileSync(probe, `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(loaded)}, process.moduleLoadList.join('\\n')));`);
    const daemon = await startDaemon(box, { env: { NODE_OPTIONS: `--require ${probe}` } });
    assert.equal((await rawCall(box.socket, 'daemon/status')).result !== undefined, true);
    assert.equal(await daemon.stop(), 0);
    const modules = readFileSync(loaded, 'utf8').split('\n');
    assert.ok(modules.includes('NativeModule net'), 'the probe saw the daemon load its modules');
    for (const unneeded of ['NativeModule module', 'NativeModule worker_threads']) assert.ok(!modules.includes(unneeded), `${unneeded} was loaded`);
    assert.match(readFileSync(box.logFile, 'utf8'), /codexd is ready/);
  });
});
