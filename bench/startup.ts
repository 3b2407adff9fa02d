// Daemon start-up: from spawn until its socket accepts a connection (what the first command of
// a session waits for through autostart), against `node -e 0` (spawn to exit) and a bare Node
// listener (spawn until it accepts), in alternating rounds. codexd runs from its code cache, which
// the warm-up's daemon writes once it serves, as every start after a build's first does; beside
// it, the first start of a build, with an empty cache folder each time.
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
  const times = { daemon: [] as number[], first: [] as number[], bare: [] as number[], listener: [] as number[] };
  type Kind = keyof typeof times;
  const kinds = Object.keys(times) as Kind[];
  for (let r = 0; r < options.warmup + options.runs; r++) {
    options.progress(`daemon start-up: ${r < options.warmup ? 'warm-up' : `round ${r - options.warmup + 1}/${options.runs}`}`);
    // Fresh sandboxes each round; each codexd's a first start, with a ChatGPT login in auth.json.
    const box = sandbox(options.root, `startup${r}`, { CODEXD_ISSUER: options.issuer.url });
    /** A first start in a home of its own, with the code cache in `cache`. */
    const start = async (name: string, cache: string): Promise<number> => {
      const home = sandbox(options.root, `startup${r}${name}`, { CODEXD_ISSUER: options.issuer.url, XDG_CACHE_HOME: cache });
      writeLogin(options.issuer, home.codexHome);
      const daemon = await startDaemon(home);
      await daemon.stop();
      return daemon.startMs;
    };
    const measure: Record<Kind, () => Promise<number>> = {
      daemon: () => start('cached', join(options.root, 'code-cache')),
      first: () => start('first', join(options.root, `code-cache-${r}`)),
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
  const ratio = (kind: Kind): number[] => times[kind].map((ms, i) => ms / times.bare[i]!);
  const group = 'daemon start-up (spawn until the socket accepts a connection)';
  return [
    figure(group, 'codexd', 'ms', times.daemon, undefined, 'a first start in a fresh home, with a ChatGPT login in auth.json, the Node flags autostart uses, from its code cache'),
    figure(group, '`node -e 0` (spawn to exit)', 'ms', times.bare),
    figure(group, 'ratio codexd / node -e 0', '×', ratio('daemon'), atMost(2, '≤ 2×'), 'median of per-round ratios'),
    figure(group, 'codexd, first start of a build (empty code cache)', 'ms', times.first),
    figure(group, 'ratio first start of a build / node -e 0', '×', ratio('first'), undefined, 'median of per-round ratios'),
    figure(group, 'reference: bench/bare-listener.cjs', 'ms', times.listener, undefined, 'a bare Node process listening on a Unix socket'),
  ];
}
