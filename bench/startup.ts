// Daemon start-up: from spawn until its socket accepts a connection (what the first command of
// a session waits for through autostart), against `node -e 0` (spawn to exit) and a bare Node
// listener (spawn until it accepts), in alternating rounds.
import { join } from 'node:path';
import type { FakeIssuer } from '../support/fake-issuer.js';
import { timeProcess } from './coldstart.js';
import { atMost, figure, sandbox, startBareListener, startDaemon, writeLogin, type Figure } from './lib.js';

export interface StartupOptions {
  issuer: FakeIssuer;
  root: string;
  warmup: number;
  runs: number;
  progress(label: string): void;
}

export async function startupBench(options: StartupOptions): Promise<Figure[]> {
  const times = { daemon: [] as number[], bare: [] as number[], listener: [] as number[] };
  type Kind = keyof typeof times;
  const kinds = Object.keys(times) as Kind[];
  for (let r = 0; r < options.warmup + options.runs; r++) {
    options.progress(`daemon start-up: ${r < options.warmup ? 'warm-up' : `round ${r - options.warmup + 1}/${options.runs}`}`);
    // A fresh sandbox each round: a first start, with a ChatGPT login in auth.json.
    const box = sandbox(options.root, `startup${r}`, { CODEXD_ISSUER: options.issuer.url });
    writeLogin(options.issuer, box.codexHome);
    const measure: Record<Kind, () => Promise<number>> = {
      daemon: async () => {
        const daemon = await startDaemon(box);
        await daemon.stop();
        return daemon.startMs;
      },
      bare: async () => (await timeProcess(['-e', '0'], box.env)).ms,
      listener: async () => {
        const listener = await startBareListener(join(box.dir, 'bare.sock'));
        await listener.stop();
        return listener.startMs;
      },
    };
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(r + k) % kinds.length]!;
      const ms = await measure[kind]();
      if (r >= options.warmup) times[kind].push(ms);
    }
  }
  const ratio = times.daemon.map((ms, i) => ms / times.bare[i]!);
  const group = 'daemon start-up (spawn until the socket accepts a connection)';
  return [
    figure(group, 'codexd', 'ms', times.daemon, undefined, 'a first start, with a ChatGPT login in auth.json, the Node flags autostart uses'),
    figure(group, '`node -e 0` (spawn to exit)', 'ms', times.bare),
    figure(group, 'ratio codexd / node -e 0', '×', ratio, atMost(2, '≤ 2×'), 'median of per-round ratios'),
    figure(group, 'reference: bench/bare-listener.cjs', 'ms', times.listener, undefined, 'a bare Node process listening on a Unix socket'),
  ];
}
