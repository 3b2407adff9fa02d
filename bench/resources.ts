// The daemon's footprint: its private memory (RssAnon) and RSS after start and after 100k
// requests, the RSS beside a bare Node process listening on a Unix socket, and the CPU time it
// uses while idle (one client connected and listening, as an editor would be).
import { connect, type CodexdClient } from '../client/index.js';
import type { FakeIssuer } from '../support/fake-issuer.js';
import { join } from 'node:path';
import { atMost, cpuMs, figure, median, MiB, rssBytes, sandbox, sleep, startBareListener, startDaemon, writeLogin, type Figure, type Proc } from './lib.js';

export interface ResourceOptions {
  issuer: FakeIssuer;
  root: string;
  runs: number;
  requests: number;
  clients: number;
  idleS: number;
  /** Quiet time before the idle window: V8 tidies its heap for a few seconds after a load. */
  quietS: number;
  progress(label: string): void;
}

const SETTLE_MS = 1000;
/** When private memory is read after the load: V8's memory reducer gives the load's heap back about 20 s after it. */
const AFTER_LOAD_MS = 30_000;
const IDLE_GOAL_MS_PER_30S = 30;
const PRIVATE_GOAL_MIB = 12;
/** The daemon's RSS may exceed the bare listener's by this much. */
const ABOVE_BARE_GOAL_MIB = 12;

async function hammer(clients: CodexdClient[], total: number): Promise<void> {
  let sent = 0;
  await Promise.all(
    clients.map(async (client) => {
      while (sent < total) {
        sent++;
        await client.token();
      }
    }),
  );
}

export async function resourceBench(options: ResourceOptions): Promise<Figure[]> {
  const started: number[] = [];
  const startedAnon: number[] = [];
  const loaded: number[] = [];
  const loadedAnon: number[] = [];
  const laterAnon: Array<Promise<number>> = [];
  const bare: number[] = [];
  const bareAnon: number[] = [];
  const daemons: Proc[] = [];
  const listeners: CodexdClient[] = [];
  let idleBare: Proc | null = null;
  try {
    // Warm-up: one start and stop, so every run finds the files in the page cache.
    options.progress('memory: warm-up start');
    {
      const box = sandbox(options.root, 'mem-warmup', { CODEXD_ISSUER: options.issuer.url });
      writeLogin(options.issuer, box.codexHome);
      await (await startDaemon(box)).stop();
    }
    for (let r = 0; r < options.runs; r++) {
      options.progress(`memory: run ${r + 1}/${options.runs}: a bare listener, then codexd: start, then ${options.requests} requests`);
      const box = sandbox(options.root, `mem${r}`, { CODEXD_ISSUER: options.issuer.url });
      const listener = await startBareListener(join(box.dir, 'bare.sock'));
      await sleep(SETTLE_MS);
      bare.push(rssBytes(listener.pid) / MiB);
      bareAnon.push(rssBytes(listener.pid, 'RssAnon') / MiB);
      await listener.stop();

      writeLogin(options.issuer, box.codexHome);
      const daemon = await startDaemon(box);
      daemons.push(daemon);
      const watcher = await connect({ socket: box.socket, autostart: false });
      watcher.onAccountUpdated(() => undefined);
      listeners.push(watcher);
      await watcher.token();
      await sleep(SETTLE_MS);
      started.push(rssBytes(daemon.pid) / MiB);
      startedAnon.push(rssBytes(daemon.pid, 'RssAnon') / MiB);
      const clients = await Promise.all(Array.from({ length: options.clients }, () => connect({ socket: box.socket, autostart: false })));
      await hammer(clients, options.requests);
      for (const client of clients) await client.close();
      // Read while the next runs and the idle window go on (they end later than this).
      const pid = daemon.pid;
      laterAnon.push(sleep(AFTER_LOAD_MS).then(() => rssBytes(pid, 'RssAnon') / MiB));
      await sleep(SETTLE_MS);
      loaded.push(rssBytes(daemon.pid) / MiB);
      loadedAnon.push(rssBytes(daemon.pid, 'RssAnon') / MiB);
    }
    // Every daemon idles at once, beside a bare listener: CPU time is per process, so they do not
    // disturb each other's figure.
    options.progress(`idle CPU: ${options.quietS} s quiet, then ${options.idleS} s measured, ${daemons.length} idle daemon(s)`);
    idleBare = await startBareListener(join(options.root, 'idle-bare.sock'));
    const idlers = [...daemons, idleBare];
    await sleep(options.quietS * 1000);
    const before = idlers.map((proc) => cpuMs(proc.pid));
    const t0 = Date.now();
    await sleep(options.idleS * 1000);
    const window = (Date.now() - t0) / 1000;
    const idle = idlers.map((proc, i) => ((cpuMs(proc.pid) - before[i]!) * 30) / window);
    const bareIdle = idle.pop()!;
    const settledAnon = await Promise.all(laterAnon);
    const rested = daemons.map((daemon) => rssBytes(daemon.pid) / MiB);
    const group = 'daemon memory and CPU';
    const privateGoal = atMost(PRIVATE_GOAL_MIB, `≤ ${PRIVATE_GOAL_MIB} MiB`);
    const bareMedian = median(bare);
    const rssGoal = atMost(bareMedian + ABOVE_BARE_GOAL_MIB, `≤ bare listener + ${ABOVE_BARE_GOAL_MIB} MiB (${(bareMedian + ABOVE_BARE_GOAL_MIB).toFixed(1)})`);
    const after = `${options.clients} clients, read ${SETTLE_MS / 1000} s after the load`;
    return [
      figure(group, 'private memory (RssAnon) after start', 'MiB', startedAnon, privateGoal, 'read 1 s after the first request'),
      figure(group, `private memory (RssAnon) after ${options.requests / 1000}k requests`, 'MiB', loadedAnon, undefined, after),
      figure(group, `private memory (RssAnon) ${AFTER_LOAD_MS / 1000} s after ${options.requests / 1000}k requests`, 'MiB', settledAnon, privateGoal),
      figure(group, 'reference: bare listener RSS', 'MiB', bare, undefined, 'bench/bare-listener.cjs with the daemon\'s Node flags, read 1 s after start'),
      figure(group, 'reference: bare listener private memory (RssAnon)', 'MiB', bareAnon),
      figure(group, 'RSS after start', 'MiB', started, rssGoal),
      figure(group, `RSS after ${options.requests / 1000}k requests`, 'MiB', loaded, rssGoal, after),
      figure(group, 'RSS after the idle window', 'MiB', rested, undefined, `the same daemons, ${options.quietS + Math.round(window)} s after the load`),
      figure(
        group,
        'CPU time per 30 idle s',
        'ms',
        idle,
        atMost(IDLE_GOAL_MS_PER_30S, `≤ ${IDLE_GOAL_MS_PER_30S} ms (0.1% of a core)`),
        `utime+stime from /proc/<pid>/stat over ${Math.round(window)} s${options.idleS === 30 ? '' : ', scaled to 30 s'}, from ${options.quietS} s after the load, one listening client connected`,
      ),
      figure(group, 'reference: bare listener CPU time per 30 idle s', 'ms', [bareIdle], undefined, 'over the same window'),
    ];
  } finally {
    await idleBare?.stop();
    for (const listener of listeners) await listener.close();
    for (const daemon of daemons) await daemon.stop();
  }
}
