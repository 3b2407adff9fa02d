// Refresh coalescing (N concurrent token calls on an expired token: refreshes at the issuer, and
// time until every caller has its token) and change propagation (an outside atomic rename of
// auth.json until account/updated reaches a client).
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { connect, type CodexdClient, type Status } from '../client/index.js';
import type { FakeIssuer, TokenSet } from '../support/fake-issuer.js';
import { atMost, codexAuthJson, exactlyAll, expMs, figure, sleep, writeAtomically, type Figure, type Sandbox } from './lib.js';

/** A client that remembers every account/updated it receives. */
export interface Watcher {
  client: CodexdClient;
  next(predicate: (status: Status) => boolean, timeoutMs?: number): Promise<Status>;
}

export async function watcher(socket: string): Promise<Watcher> {
  const client = await connect({ socket, autostart: false });
  let waiting: Array<{ predicate: (status: Status) => boolean; resolve: (status: Status) => void }> = [];
  client.onAccountUpdated((status) => {
    const hit = waiting.filter((w) => w.predicate(status));
    waiting = waiting.filter((w) => !hit.includes(w));
    for (const w of hit) w.resolve(status);
  });
  return {
    client,
    next: (predicate, timeoutMs = 10_000) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('timed out waiting for account/updated')), timeoutMs);
        waiting.push({
          predicate,
          resolve: (status) => {
            clearTimeout(timer);
            resolve(status);
          },
        });
      }),
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

export interface CoalescingOptions {
  issuer: FakeIssuer;
  box: Sandbox;
  daemonPid: number;
  ns: number[];
  /** Connections the calls are spread over (at most one call per connection for N=1). */
  connections: number;
  warmup: number;
  runs: number;
  progress(label: string): void;
}

/**
 * The daemon must hold an expired token when all N calls reach it. It is given a token that
 * expires within a second, and once it has adopted it, it is paused (SIGSTOP) until the token
 * has expired; the N calls are written to its sockets while it is paused, and the clock starts
 * when it resumes (SIGCONT). So every call finds the token expired, and the daemon's own
 * refresh timer fires in the same instant: exactly the race that coalescing must win.
 * The daemon runs with CODEXD_REFRESH_MARGIN_S=0, so "due" means "expired".
 */
export async function coalescingBench(options: CoalescingOptions): Promise<Figure[]> {
  const { issuer, box } = options;
  const watch = await watcher(box.socket);
  const clients = await Promise.all(Array.from({ length: options.connections }, () => connect({ socket: box.socket, autostart: false })));
  const refreshes = (): number => issuer.count('/oauth/token', 'refresh_token');
  const figures: Figure[] = [];
  try {
    for (const n of options.ns) {
      const counts: number[] = [];
      const times: number[] = [];
      for (let r = 0; r < options.warmup + options.runs; r++) {
        options.progress(`refresh coalescing, N=${n}: ${r < options.warmup ? 'warm-up' : `run ${r - options.warmup + 1}/${options.runs}`}`);
        // A token expiring 250 ms to 1.25 s from now (exp has a resolution of one second).
        let tokens: TokenSet = issuer.mintTokens({ accessExpiresInS: 1 });
        if (expMs(tokens.access_token) - Date.now() < 250) tokens = issuer.mintTokens({ accessExpiresInS: 2 });
        const exp = expMs(tokens.access_token);
        const adopted = watch.next((s) => s.accessTokenExpiresAt === iso(exp));
        writeAtomically(box.codexHome, codexAuthJson(tokens, issuer.account.accountId));
        await adopted;
        if (Date.now() > exp - 20) throw new Error('the daemon took too long to adopt auth.json; the machine is overloaded');
        process.kill(options.daemonPid, 'SIGSTOP');
        let ms: number;
        let seen: number;
        try {
          await sleep(exp - Date.now() + 20);
          const before = refreshes();
          const calls = Array.from({ length: n }, (_, i) => clients[i % clients.length]!.token());
          await sleep(20); // every request is in the daemon's socket buffers
          const t0 = performance.now();
          process.kill(options.daemonPid, 'SIGCONT');
          const answers = await Promise.all(calls);
          ms = performance.now() - t0;
          const distinct = new Set(answers.map((a) => (a.type === 'chatgpt' ? a.accessToken : a.type)));
          if (distinct.size !== 1 || distinct.has(tokens.access_token)) {
            throw new Error(`N=${n}: callers got ${distinct.size} different token(s)${distinct.has(tokens.access_token) ? ', one of them the expired one' : ''}`);
          }
          await sleep(150); // a second, late refresh would show up by now
          seen = refreshes() - before;
        } finally {
          process.kill(options.daemonPid, 'SIGCONT');
        }
        if (r >= options.warmup) {
          counts.push(seen);
          times.push(ms);
        }
      }
      const group = `refresh coalescing, N = ${n}`;
      figures.push(
        figure(group, 'refreshes at the issuer', 'count', counts, exactlyAll(1, 'exactly 1 (every run)')),
        figure(group, 'time until every caller has its token', 'ms', times, undefined, `calls spread over ${Math.min(n, clients.length)} connection(s)`),
      );
    }
  } finally {
    for (const client of clients) await client.close();
    await watch.client.close();
  }
  return figures;
}

export interface PropagationOptions {
  issuer: FakeIssuer;
  box: Sandbox;
  warmup: number;
  runs: number;
  progress(label: string): void;
}

/** From the rename of a new auth.json into place until a connected client hears account/updated about it. */
export async function propagationBench(options: PropagationOptions): Promise<Figure[]> {
  const { issuer, box } = options;
  const watch = await watcher(box.socket);
  const times: number[] = [];
  try {
    for (let r = 0; r < options.warmup + options.runs; r++) {
      options.progress(`change propagation: ${r < options.warmup ? 'warm-up' : `run ${r - options.warmup + 1}/${options.runs}`}`);
      const tokens = issuer.mintTokens({ accessExpiresInS: 7200 + r });
      const exp = iso(expMs(tokens.access_token));
      const temp = join(box.codexHome, `.bench-propagation-${r}.tmp`);
      writeFileSync(temp, codexAuthJson(tokens, issuer.account.accountId), { mode: 0o600 });
      const heard = watch.next((s) => s.accessTokenExpiresAt === exp, 10_000);
      const t0 = performance.now();
      renameSync(temp, join(box.codexHome, 'auth.json'));
      await heard;
      if (r >= options.warmup) times.push(performance.now() - t0);
      await sleep(100);
    }
  } finally {
    await watch.client.close();
  }
  return [figure('change propagation', 'outside rename of auth.json → account/updated', 'ms', times, atMost(2000, '≤ 2000 ms'))];
}
