#!/usr/bin/env node
// The `codexd` bin: runs main.ts (bundled as codexd-main.cjs beside it) compiled from V8's code
// cache, in the bin's own CommonJS scope (shared/code-cache.ts; scripts/bundle.mjs). The cache is
// written once the first daemon of a build serves; every later start compiles far less.
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runFromCodeCache } from '../shared/code-cache.js';
import { cacheDir } from '../shared/paths.js';

/**
 * V8 flags for a daemon that runs for hours, set once it serves. A V8 flag set any earlier, on
 * Node's command line or here before the bundle runs, changes the flags V8 keys every code cache
 * by: Node's own modules (net, streams, cluster, child_process...) would then compile from their
 * source instead of from the cache built into Node, about 10 ms of a 55 ms start
 * (docs/performance.md); and codexd's cache would have to be written with the flags set, so a
 * start, which begins without them, would refuse it. Set in-process rather than on the command
 * line also because a Node whose V8 lacks a flag then only says so on stderr, where on the command
 * line it stops Node (exit status 9).
 *  - The young generation stays at the size start-up leaves it (V8 otherwise doubles it after a
 *    busy scavenge, to semi-spaces of up to 16 MiB): a burst of requests leaves an idle daemon
 *    near its start-up memory, as `--max-semi-space-size=1` on the command line did.
 *  - V8's memory reducer gives back the heap a burst leaves behind once codexd is idle, but first
 *    looks 8 s after the burst's last full GC, and on a busy machine often not within 30 s; from
 *    2 s, private memory is back under 12 MiB within 30 s.
 */
const LONG_RUN_V8_FLAGS = ['--semi-space-growth-factor=1', '--gc-memory-reducer-start-delay-ms=2000'];

const codexd = runFromCodeCache(join(import.meta.dirname, 'codexd-main.cjs'), cacheDir(), { require, module }, false);
// The bundle ran in this module's scope: what main.ts exports is this module's exports.
void (module.exports as { serving: Promise<void> }).serving.then(() => {
  // What start-up compiled, keyed by the flags the next start begins with.
  codexd.saveNow();
  for (const flag of LONG_RUN_V8_FLAGS) setFlagsFromString(flag);
});
