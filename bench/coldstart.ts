// `codex-auth token` against a running daemon, as a whole process (spawn to exit), against the
// floor: bench/floor-client.cjs, a bare CommonJS client that does nothing but the one request.
// `node -e 0` runs in the same rounds, as Node's own start-up.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { atMost, childrenCpuMs, cliBin, figure, root, type Figure } from './lib.js';

export interface ColdStartOptions {
  env: NodeJS.ProcessEnv;
  warmup: number;
  runs: number;
  progress(label: string): void;
}

export interface Timed {
  /** Spawn to exit. */
  ms: number;
  /** CPU time the process used, at the kernel's 10 ms tick resolution. */
  cpuMs: number;
}

/** Runs `node args` to completion; throws unless it exits 0. */
export function timeProcess(args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  return new Promise((resolve, reject) => {
    const cpuBefore = childrenCpuMs();
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve({ ms, cpuMs: childrenCpuMs() - cpuBefore });
      else reject(new Error(`node ${args.join(' ')} exited with ${code}: ${stderr}`));
    });
  });
}

const mean = (values: number[]): number => values.reduce((sum, v) => sum + v, 0) / values.length;

export async function coldStartBench(options: ColdStartOptions): Promise<Figure[]> {
  const commands = {
    cli: [cliBin, 'token'],
    // The same, in an empty cache folder each time: the first run after an install or a Node
    // upgrade, which compiles from source and writes the code cache at exit (shared/code-cache.ts).
    first: [cliBin, 'token'],
    floor: [join(root, 'bench', 'floor-client.cjs')],
    bare: ['-e', '0'],
  };
  const kinds = Object.keys(commands) as Array<keyof typeof commands>;
  const runs: Record<keyof typeof commands, Timed[]> = { cli: [], first: [], floor: [], bare: [] };
  let emptyCaches = 0;
  const envOf = (kind: keyof typeof commands): NodeJS.ProcessEnv => (kind === 'first' ? { ...options.env, XDG_CACHE_HOME: join(options.env['HOME']!, `empty-cache-${emptyCaches++}`) } : options.env);
  options.progress('CLI cold start: warm-up');
  for (let i = 0; i < options.warmup; i++) for (const kind of kinds) await timeProcess(commands[kind], envOf(kind));
  options.progress(`CLI cold start: ${options.runs} alternating rounds`);
  for (let i = 0; i < options.runs; i++) {
    // Rotate which goes first, so that no command always follows the same one.
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(i + k) % kinds.length]!;
      runs[kind].push(await timeProcess(commands[kind], envOf(kind)));
    }
  }
  const ms = (kind: keyof typeof commands): number[] => runs[kind].map((run) => run.ms);
  const ratio = (kind: keyof typeof commands, to: keyof typeof commands): number[] => runs[kind].map((run, i) => run.ms / runs[to][i]!.ms);
  const cpu = (kind: keyof typeof commands): number => mean(runs[kind].map((run) => run.cpuMs));
  const group = 'CLI cold start (whole process, spawn to exit)';
  const cpuNote = `mean of ${options.runs} runs, from /proc/self/stat cutime+cstime; less disturbed than wall time by other work on a shared CPU`;
  return [
    figure(group, '`codex-auth token`', 'ms', ms('cli'), undefined, 'from its code cache, as every run after the first'),
    figure(group, '`codex-auth token`, first run', 'ms', ms('first'), undefined, 'no code cache yet: compiles its bundle, and writes the cache at exit'),
    figure(group, 'floor: bench/floor-client.cjs (connect, one request, print)', 'ms', ms('floor')),
    figure(group, '`node -e 0`', 'ms', ms('bare')),
    figure(group, 'ratio codex-auth token / floor', '×', ratio('cli', 'floor'), atMost(1.1, '≤ 1.1×'), 'median of per-round ratios'),
    figure(group, 'ratio codex-auth token / node -e 0', '×', ratio('cli', 'bare'), undefined, 'median of per-round ratios'),
    figure(group, 'ratio first run / floor', '×', ratio('first', 'floor'), undefined, 'median of per-round ratios'),
    figure(group, 'CPU time: `codex-auth token`', 'ms', [cpu('cli')], undefined, cpuNote),
    figure(group, 'CPU time: floor', 'ms', [cpu('floor')]),
    figure(group, 'CPU time ratio codex-auth token / floor', '×', [cpu('cli') / cpu('floor')], undefined, 'ratio of the means'),
  ];
}
