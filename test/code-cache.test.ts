// shared/code-cache.ts, in processes of its own (a cache is written at exit, or when asked): a
// bundle runs the same from its source and from its cache; the first run writes the cache, the next
// ones use it; a cache that cannot be trusted or used is neither followed nor read, and the bundle
// still runs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, chownSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { root } from './helpers.js';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

interface Place {
  dir: string;
  bundle: string;
  cache: string;
  runner: string;
}

const SOURCE = `'use strict';
const { basename } = require('node:path');
function greeting(name) { return 'hello from ' + name; }
process.stdout.write(greeting(basename(__filename)) + ' ' + (module.exports === exports) + '\\n');
`;

/** A bundle as scripts/bundle.mjs ends it, with the line that names its build. */
const named = (source: string): string => `${source}// build ${createHash('sha256').update(source).digest('hex')}\n`;
const BUNDLE = named(SOURCE);

function place(): Place {
  const dir = mkdtempSync(join(tmpdir(), 'cxd-code-cache-'));
  dirs.push(dir);
  const bundle = join(dir, 'bundle.cjs');
  writeFileSync(bundle, BUNDLE);
  const runner = join(dir, 'runner.mjs');
  writeFileSync(
    runner,
    `import { createRequire } from 'node:module';
import { runFromCodeCache } from ${JSON.stringify(join(root, 'dist', 'shared', 'code-cache.js'))};
const [bundle, cache, save] = process.argv.slice(2);
const { fromCache, saveNow } = runFromCodeCache(bundle, cache, { require: createRequire(bundle), module: { exports: {} } }, save === undefined);
if (save === 'now') saveNow();
process.stdout.write('from the cache: ' + fromCache + '\\n');
`,
  );
  return { dir, bundle, cache: join(dir, 'cache', 'codexd'), runner };
}

/**
 * Runs the bundle through the runner; whether it ran from its cache. `save`: the cache is not
 * written at exit, but by saveNow() ('now'), or not at all ('never').
 */
function run(p: Place, greeting = 'hello', save?: 'now' | 'never'): boolean {
  const result = spawnSync(process.execPath, [p.runner, p.bundle, p.cache, ...(save ? [save] : [])], { encoding: 'utf8', timeout: 10_000, env: { PATH: process.env['PATH'] } });
  assert.equal(result.status, 0, result.stderr);
  assert.equal(result.stderr, '');
  const [output, cached] = result.stdout.split('\n');
  assert.equal(output, `${greeting} from bundle.cjs true`, 'the bundle ran, in the CommonJS scope it was given');
  assert.match(cached!, /^from the cache: (true|false)$/);
  return cached === 'from the cache: true';
}

const caches = (p: Place): string[] => (existsSync(p.cache) ? readdirSync(p.cache) : []);

describe('the code cache', () => {
  it('is written by the first run (0600, in a 0700 folder) and used by the next; another build compiles and gets its own, and the cache of a build not written for 30 days goes', () => {
    const p = place();
    assert.equal(run(p), false);
    const [file, ...more] = caches(p);
    assert.ok(file?.startsWith('bundle.cjs-') && file.endsWith('.v8cache') && more.length === 0, `one cache: ${caches(p).join(', ')}`);
    assert.equal(statSync(p.cache).mode & 0o777, 0o700);
    assert.equal(statSync(join(p.cache, file)).mode & 0o777, 0o600);
    const written = statSync(join(p.cache, file)).mtimeMs;
    assert.equal(run(p), true);
    assert.equal(run(p), true);
    assert.equal(statSync(join(p.cache, file)).mtimeMs, written, 'a cache that was used is not written again');

    writeFileSync(p.bundle, named(`${SOURCE}// changed\n`));
    assert.equal(run(p), false, 'another build of the bundle does not use the old cache');
    assert.equal(run(p), true);
    assert.equal(caches(p).length, 2, 'the cache of a build used within 30 days is kept (another install may use it)');
    const month = (Date.now() - 31 * 24 * 3600 * 1000) / 1000;
    utimesSync(join(p.cache, file), month, month);
    writeFileSync(p.bundle, named(`${SOURCE}// changed again\n`));
    assert.equal(run(p), false);
    assert.equal(caches(p).length, 2, 'the one not written for 30 days is gone');
    assert.ok(!caches(p).includes(file));
  });

  it('is written when the program asks, instead of at exit, for one that sets V8 flags once it is up', () => {
    const p = place();
    assert.equal(run(p, 'hello', 'never'), false);
    assert.deepEqual(caches(p), [], 'not written at exit');
    assert.equal(run(p, 'hello', 'now'), false);
    const [file, ...more] = caches(p);
    assert.ok(file?.startsWith('bundle.cjs-') && more.length === 0, `one cache: ${caches(p).join(', ')}`);
    assert.equal(statSync(join(p.cache, file)).mode & 0o777, 0o600);
    assert.equal(run(p, 'hello', 'now'), true, 'the cache it wrote is used, and not written again');
    assert.equal(run(p), true);
  });

  it('is not read from a folder others can write to, nor written there', () => {
    const p = place();
    mkdirSync(p.cache, { recursive: true, mode: 0o700 });
    chmodSync(p.cache, 0o777);
    assert.equal(run(p), false);
    assert.deepEqual(caches(p), [], 'nothing written');
    chmodSync(p.cache, 0o700);
    assert.equal(run(p), false);
    assert.equal(run(p), true);
  });

  it('is not read through a symlink, from a FIFO (which does not block), from junk, nor from a file others can write or another user owns; each is replaced by a good cache', () => {
    const plants = ['symlink', 'fifo', 'junk', 'empty', 'writable by others', ...(process.getuid!() === 0 ? (['owned by nobody'] as const) : [])] as const;
    for (const plant of plants) {
      const p = place();
      assert.equal(run(p), false);
      const [file] = caches(p);
      const path = join(p.cache, file!);
      // The good cache moved aside, and something else put where it was.
      const good = join(p.dir, 'good.v8cache');
      renameSync(path, good);
      if (plant === 'symlink') symlinkSync(good, path);
      if (plant === 'fifo') assert.equal(spawnSync('mkfifo', [path]).status, 0);
      if (plant === 'junk') writeFileSync(path, Buffer.alloc(4096, 7), { mode: 0o600 });
      if (plant === 'empty') writeFileSync(path, '', { mode: 0o600 });
      if (plant === 'writable by others' || plant === 'owned by nobody') {
        copyFileSync(good, path);
        if (plant === 'writable by others') chmodSync(path, 0o666);
        else chownSync(path, 65534, 65534);
      }
      assert.equal(run(p), false, `${plant}: not used`);
      assert.ok(statSync(path).isFile(), `${plant}: replaced by a cache`);
      assert.equal(run(p), true, `${plant}: the new cache is used`);
    }
  });

  it('is not used for another build of the same size, time and inode (which V8 would take), nor made for a bundle that does not name its build', () => {
    const p = place();
    assert.equal(run(p), false);
    const { atime, mtime } = statSync(p.bundle);
    rmSync(p.bundle); // its inode free for the next file, as it often is
    writeFileSync(p.bundle, named(SOURCE.replace("'hello from '", "'HELLO from '")));
    utimesSync(p.bundle, atime, mtime);
    assert.equal(run(p, 'HELLO'), false, 'another build compiles from its source');
    assert.equal(run(p, 'HELLO'), true);

    const unnamed = place();
    writeFileSync(unnamed.bundle, SOURCE);
    assert.equal(run(unnamed), false);
    assert.equal(run(unnamed), false);
    assert.deepEqual(caches(unnamed), []);
  });
});
