// `codex-auth token` against a running daemon, as a whole process (spawn to exit), against
// `node -e 0`, in alternating runs; beside them two reference clients that do nothing but the
// one request, which show where Node's own start-up puts the floor.
import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { join } from 'node:path';
import { atMost, cliBin, figure, root, type Figure } from './lib.js';

export interface ColdStartOptions {
  env: NodeJS.ProcessEnv;
  warmup: number;
  runs: number;
  progress(label: string): void;
}

/** Wall time from spawn to exit, in ms; throws unless the process exits 0. */
export function timeProcess(args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.resume();
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const ms = performance.now() - started;
      if (code === 0) resolve(ms);
      else reject(new Error(`node ${args.join(' ')} exited with ${code}: ${stderr}`));
    });
  });
}

/** The reference clients in bench/ (plain JavaScript, run from the source tree). */
const floorEsm = join(root, 'bench', 'floor-client.mjs');
const floorCjs = join(root, 'bench', 'floor-client.cjs');

export async function coldStartBench(options: ColdStartOptions): Promise<Figure[]> {
  const commands = {
    cli: [cliBin, 'token'],
    bare: ['-e', '0'],
    floorEsm: [floorEsm],
    floorCjs: [floorCjs],
  };
  const kinds = Object.keys(commands) as Array<keyof typeof commands>;
  const times: Record<keyof typeof commands, number[]> = { cli: [], bare: [], floorEsm: [], floorCjs: [] };
  options.progress('CLI cold start: warm-up');
  for (let i = 0; i < options.warmup; i++) for (const kind of kinds) await timeProcess(commands[kind], options.env);
  options.progress(`CLI cold start: ${options.runs} alternating rounds`);
  for (let i = 0; i < options.runs; i++) {
    // Rotate which goes first, so that no command always follows the same one.
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(i + k) % kinds.length]!;
      times[kind].push(await timeProcess(commands[kind], options.env));
    }
  }
  const ratio = (kind: keyof typeof commands): number[] => times[kind].map((ms, i) => ms / times.bare[i]!);
  const group = 'CLI cold start (whole process, spawn to exit)';
  return [
    figure(group, '`codex-auth token`', 'ms', times.cli),
    figure(group, '`node -e 0`', 'ms', times.bare),
    figure(group, 'ratio codex-auth token / node -e 0', '×', ratio('cli'), atMost(1.2, '≤ 1.2×'), 'median of per-round ratios'),
    figure(group, 'reference: bare ES-module client, ratio to node -e 0', '×', ratio('floorEsm'), undefined, 'bench/floor-client.mjs: net.connect, one request, print'),
    figure(group, 'reference: bare CommonJS client, ratio to node -e 0', '×', ratio('floorCjs'), undefined, 'bench/floor-client.cjs'),
  ];
}
