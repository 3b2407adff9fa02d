#!/usr/bin/env node
// The `codexd` bin: runs main.ts (bundled as codexd-main.cjs beside it) compiled from V8's code
// cache, in the bin's own CommonJS scope (shared/code-cache.ts; scripts/bundle.mjs). The cache is
// written when the first daemon of a build exits; every later start compiles far less.
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runFromCodeCache } from '../shared/code-cache.js';
import { cacheDir } from '../shared/paths.js';

// V8's memory reducer gives back the heap a burst of requests leaves behind once codexd is idle,
// but it first looks 8 s after the burst's last full GC, and on a busy machine often not within
// 30 s; from 2 s, private memory is back under 12 MiB within 30 s (docs/performance.md). Set here
// rather than on Node's command line, where a Node whose V8 lacks the flag would refuse to start
// (exit 9) instead of saying so on stderr; and before the bundle compiles, because V8 keys a code
// cache by its flags: a flag set later would make each cache one that the next start refuses.
setFlagsFromString('--gc-memory-reducer-start-delay-ms=2000');

runFromCodeCache(join(import.meta.dirname, 'codexd-main.cjs'), cacheDir(), { require, module });
