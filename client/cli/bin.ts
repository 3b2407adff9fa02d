#!/usr/bin/env node
// The `codex-auth` bin: runs main.ts (bundled as main.cjs beside it) compiled from V8's code
// cache, in the bin's own CommonJS scope (shared/code-cache.ts; scripts/bundle.mjs).
import { join } from 'node:path';
import { runFromCodeCache } from '../../shared/code-cache.js';
import { cacheDir } from '../../shared/paths.js';

runFromCodeCache(join(import.meta.dirname, 'main.cjs'), cacheDir(), { require, module });
