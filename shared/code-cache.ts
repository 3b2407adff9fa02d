// Runs a CommonJS bundle compiled from V8's code cache, as Node 22's module.enableCompileCache()
// does; Node 20 has no such thing, so every `codex-auth token` would compile its bundle again,
// and each function as it first runs. The cache is made at the first run's exit, so that it holds
// what that run compiled, and kept in the user's cache folder (shared/paths.ts cacheDir()), one
// file per build of a bundle and Node. The build is named by the bundle itself, in its last line
// (`// build <sha256>`, written by scripts/bundle.mjs): V8 checks only a source's length, and a
// file's size, time and inode can all come back for other contents. A cache is code the process
// runs: one is read only if it is a file of this user's that nobody else can write, and written
// only into a folder of this user's that nobody else can write. Anything unexpected (no folder, a
// read-only disk, a stale or foreign file) just means compiling as usual. docs/performance.md has
// the figures.
import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { Script } from 'node:vm';

/** The CommonJS scope the bundle runs in: the caller's own `require` and `module`, which resolve from the same folder. */
export interface CommonJsScope {
  require: NodeJS.Require;
  module: NodeJS.Module;
}

/** The last line of a bundle that names its build. */
const BUILD_LINE = /\n\/\/ build ([0-9a-f]{16,64})\n?$/;
/** Larger than any cache of ours: a bigger file is not one. */
const MAX_CACHE_BYTES = 16 * 1024 * 1024;
const CACHE_SUFFIX = '.v8cache';
/** Caches of other builds of a bundle are removed once this old (an install not used for as long). */
const STALE_MS = 30 * 24 * 3600 * 1000;

/** A bundle that has run: whether it ran from its code cache, and how to write one now. */
export interface CodeCacheRun {
  fromCache: boolean;
  /**
   * Writes the cache now, with what the run has compiled so far, unless it ran from one or has
   * written one: for a program that sets V8 flags once it is up, which would otherwise be in the
   * cache written at exit, where the next start, without them yet, would refuse it.
   */
  saveNow(): void;
}

/**
 * Runs the CommonJS file `file` (ASCII, as esbuild writes it) in `scope`: compiled from its code
 * cache in `cacheDir` when there is a usable one, else from its source; in the second case a cache
 * is written at exit (unless `saveAtExit` is false, or `saveNow` wrote it) if the file names its build.
 */
export function runFromCodeCache(file: string, cacheDir: string, scope: CommonJsScope, saveAtExit = true): CodeCacheRun {
  // latin1: the fastest decoding of ASCII.
  const source = readFileSync(file, 'latin1');
  const build = BUILD_LINE.exec(source)?.[1];
  const bundle = `${basename(file)}-`;
  const cacheFile = build === undefined ? null : join(cacheDir, `${bundle}${build}-${process.version}-${process.arch}${CACHE_SUFFIX}`);
  const cachedData = cacheFile === null ? undefined : readCache(cacheFile);
  // No import() in it: a Script has no module loader of its own (scripts/bundle.mjs turns them into require()).
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, ...(cachedData ? { cachedData } : {}) });
  const fromCache = cachedData !== undefined && script.cachedDataRejected === false;
  let unsaved = !fromCache && cacheFile !== null;
  const saveNow = (): void => {
    if (!unsaved) return;
    unsaved = false;
    writeCache(cacheFile!, bundle, script);
  };
  if (unsaved && saveAtExit) process.once('exit', saveNow);
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: NodeJS.Module, filename: string, dirname: string) => void;
  wrapper.call(scope.module.exports, scope.module.exports, scope.require, scope.module, file, dirname(file));
  return { fromCache, saveNow };
}

/** Of this user's, and nobody else can write to it. */
function ours(stat: { uid: number; mode: number }): boolean {
  return process.platform === 'win32' || (stat.uid === process.getuid!() && (stat.mode & 0o022) === 0); // %LOCALAPPDATA% is the user's own
}

/**
 * The cache in `cacheFile`, or undefined when there is no usable one. What shared/bounded-read.ts
 * does, plus O_NOFOLLOW and the owner's check, written out here: this module runs in the bin,
 * which is compiled without a cache on `codex-auth token`'s path, and bounded-read's module and
 * functions cost it 0.3 ms there (in-process CPU, 9.6 -> 9.9 ms).
 */
function readCache(cacheFile: string): Buffer | undefined {
  try {
    // No symlink followed, and a FIFO does not block the open.
    const fd = openSync(cacheFile, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0));
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile() || stat.size === 0 || stat.size > MAX_CACHE_BYTES || !ours(stat)) return undefined;
      const data = Buffer.allocUnsafe(stat.size);
      return readSync(fd, data, 0, stat.size, 0) === stat.size ? data : undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/**
 * Writes the script's cache (0600, in a 0700 folder of this user's, renamed into place) and
 * removes the caches of other builds of the bundle that have not been written for STALE_MS.
 */
function writeCache(cacheFile: string, bundle: string, script: Script): void {
  const folder = dirname(cacheFile);
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const stat = lstatSync(folder);
    if (!stat.isDirectory() || !ours(stat)) return;
    const temp = `${cacheFile}.${process.pid}.tmp`;
    writeFileSync(temp, script.createCachedData(), { mode: 0o600, flag: 'wx' });
    try {
      renameSync(temp, cacheFile);
    } catch (error) {
      unlinkSync(temp);
      throw error;
    }
    for (const name of readdirSync(folder)) {
      const other = join(folder, name);
      if (name.startsWith(bundle) && name.endsWith(CACHE_SUFFIX) && other !== cacheFile && Date.now() - statSync(other).mtimeMs > STALE_MS) unlinkSync(other);
    }
  } catch {
    // No cache this time: the next run compiles as usual and tries again.
  }
}
