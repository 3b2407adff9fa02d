// account/token round trips through the client library, against the same number of clients of
// a raw echo server (bench/echo-server.cjs) driven by the same client core (shared/rpc-client.ts):
// p50/p99 latency and requests per second, and their ratios.
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connect, type CodexdClient } from '../client/index.js';
import { Requests } from '../shared/protocol.js';
import { RpcClient } from '../shared/rpc-client.js';
import { atLeast, atMost, figure, percentile, sleep, type Figure } from './lib.js';

export interface LatencyOptions {
  codexdSocket: string;
  baselineSocket: string;
  concurrency: number[];
  runs: number;
  /** Measuring time of each side in one run (in SLICES turns; a run takes twice this). */
  runMs: number;
  /** Called before each measured run, with its label; for progress output. */
  progress(label: string): void;
}

interface RunResult {
  p50: number;
  p99: number;
  rps: number;
}

type Call = () => Promise<unknown>;

/** Turns each side takes per run. */
const SLICES = 5;

interface Tally {
  latencies: number[];
  elapsedMs: number;
}

/** One closed loop per client (send, await the answer, send the next) for `ms`. */
async function slice(calls: Call[], ms: number, into: Tally): Promise<void> {
  let stop = false;
  const started = performance.now();
  const loops = calls.map(async (call) => {
    while (!stop) {
      const t = performance.now();
      await call();
      into.latencies.push(performance.now() - t);
    }
  });
  await sleep(ms);
  stop = true;
  await Promise.all(loops);
  into.elapsedMs += performance.now() - started;
}

function result(tally: Tally): RunResult {
  return { p50: percentile(tally.latencies, 50), p99: percentile(tally.latencies, 99), rps: (tally.latencies.length / tally.elapsedMs) * 1000 };
}

/**
 * One run: codexd and the baseline take turns in short slices, so that whatever else the
 * machine does during the run (it is noisy: other processes, CPU frequency) hits both alike.
 */
async function run(kinds: Record<'codexd' | 'baseline', Call[]>, ms: number, firstBaseline: boolean): Promise<Record<'codexd' | 'baseline', RunResult>> {
  const tallies = { codexd: { latencies: [], elapsedMs: 0 } as Tally, baseline: { latencies: [], elapsedMs: 0 } as Tally };
  const order = firstBaseline ? (['baseline', 'codexd'] as const) : (['codexd', 'baseline'] as const);
  for (let i = 0; i < SLICES; i++) {
    for (const kind of order) await slice(kinds[kind], ms / SLICES, tallies[kind]);
  }
  return { codexd: result(tallies.codexd), baseline: result(tallies.baseline) };
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(path);
    socket.once('connect', () => resolve(socket));
    socket.once('error', reject);
  });
}

async function baselineClient(path: string): Promise<RpcClient> {
  return new RpcClient(await openSocket(path), 'the echo server');
}

/** The p50 goal: the 1.1× for one client; under concurrency the daemon may fall further behind. */
const p50Goal = (clients: number): number => (clients === 1 ? 1.1 : 1.3);

export async function latencyBench(options: LatencyOptions): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const c of options.concurrency) {
    const codexdClients: CodexdClient[] = await Promise.all(Array.from({ length: c }, () => connect({ socket: options.codexdSocket, autostart: false })));
    const baselineClients = await Promise.all(Array.from({ length: c }, () => baselineClient(options.baselineSocket)));
    const kinds = {
      codexd: codexdClients.map((client): Call => () => client.token()),
      baseline: baselineClients.map((client): Call => () => client.request(Requests.accountToken, {})),
    };
    // Warm-up: both sides' JIT, socket buffers, the daemon's caches.
    options.progress(`latency, ${c} client(s): warm-up`);
    await run(kinds, options.runMs, false);
    const results: Record<'codexd' | 'baseline', RunResult[]> = { codexd: [], baseline: [] };
    for (let r = 0; r < options.runs; r++) {
      options.progress(`latency, ${c} client(s): run ${r + 1}/${options.runs}`);
      const both = await run(kinds, options.runMs, r % 2 === 1);
      results.codexd.push(both.codexd);
      results.baseline.push(both.baseline);
    }
    for (const client of codexdClients) await client.close();
    for (const client of baselineClients) client.close();

    const group = `account/token, ${c} concurrent client${c === 1 ? '' : 's'}`;
    const pick = (kind: 'codexd' | 'baseline', key: keyof RunResult): number[] => results[kind].map((result) => result[key]);
    const ratio = (key: keyof RunResult): number[] => results.codexd.map((result, i) => result[key] / results.baseline[i]![key]);
    figures.push(
      figure(group, 'codexd p50', 'ms', pick('codexd', 'p50')),
      figure(group, 'baseline p50', 'ms', pick('baseline', 'p50')),
      figure(group, 'p50 ratio codexd/baseline', '×', ratio('p50'), atMost(p50Goal(c), `≤ ${p50Goal(c)}×`)),
      figure(group, 'codexd p99', 'ms', pick('codexd', 'p99')),
      figure(group, 'baseline p99', 'ms', pick('baseline', 'p99')),
      figure(group, 'p99 ratio codexd/baseline', '×', ratio('p99')),
      figure(group, 'codexd throughput', 'req/s', pick('codexd', 'rps')),
      figure(group, 'baseline throughput', 'req/s', pick('baseline', 'rps')),
      figure(group, 'throughput ratio codexd/baseline', '×', ratio('rps'), atLeast(0.7, '≥ 0.7×')),
    );
  }
  return figures;
}
