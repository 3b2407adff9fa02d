// The codexd bin runs its bundle (codexd-main.cjs) from V8's code cache: the first daemon of a
// build writes the cache once it serves, and later starts compile from it (docs/performance.md,
// "Issue 20's goals"). V8 keys a cache by its flags: a cache written after the daemon set its
// flags would be refused by every start, and a V8 flag on Node's command line keeps Node's own
// modules from the cache built into Node.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DAEMON_NODE_FLAGS } from '../client/autostart.js';
import { rawCall, sandbox, startDaemon, waitFor } from './helpers.js';

describe('the codexd bin', () => {
  it('writes its code cache once the first daemon of a build serves, and the next start runs from it without writing it again', async (t) => {
    const box = sandbox();
    t.after(() => box.cleanup());
    const caches = join(box.env['HOME']!, '.cache', 'codexd');
    const cacheFiles = (): string[] => (existsSync(caches) ? readdirSync(caches) : []);
    const serves = async (): Promise<void> => {
      const daemon = await startDaemon(box);
      assert.equal((await rawCall(box.socket, 'initialize')).result !== undefined, true);
      assert.equal(await daemon.stop(), 0);
    };

    // Killed outright once it serves: the cache is already there, it does not wait for an exit.
    const first = await startDaemon(box);
    await waitFor(() => cacheFiles().length > 0, 'the code cache');
    await first.stop('SIGKILL');
    const [cache, ...more] = cacheFiles();
    assert.ok(cache?.startsWith('codexd-main.cjs-') && more.length === 0, `one code cache: ${cacheFiles().join(', ')}`);
    assert.equal(statSync(caches).mode & 0o777, 0o700);
    assert.equal(statSync(join(caches, cache)).mode & 0o777, 0o600);
    const written = statSync(join(caches, cache)).mtimeMs;

    await serves();
    assert.equal(statSync(join(caches, cache)).mtimeMs, written, 'the second start ran from the cache');

    // A cache V8 refuses just means compiling, and a good one is written once that daemon serves.
    writeFileSync(join(caches, cache), Buffer.alloc(4096, 7));
    await serves();
    assert.notEqual(statSync(join(caches, cache)).size, 4096);
  });

  it('starts Node without a V8 flag, which would keep Node\'s own modules from the code cache built into Node', () => {
    // The tag V8 checks a code cache against: its version and its flags.
    const tag = (flags: string[]): string => spawnSync(process.execPath, [...flags, '-p', "require('node:v8').cachedDataVersionTag()"], { encoding: 'utf8', env: {} }).stdout.trim();
    assert.match(tag([]), /^\d+$/);
    assert.equal(tag(DAEMON_NODE_FLAGS), tag([]), `${DAEMON_NODE_FLAGS.join(' ')} changes V8's flags`);
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
