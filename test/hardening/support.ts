// Shared plumbing of the hardening suite (test/hardening/*.test.ts): a per-file "suite" that
// tracks sandboxes, daemons and fake issuers and, when the file ends, hands everything it captured
// (daemon logs and stderr, CLI output, error messages, notifications, `ps` listings) and every
// secret it used to the report folder, where the summary (run.ts, after the last file) scans it
// all and prints one line per category. Plus raw-socket helpers, /proc readers, tmpfs mounts and a seeded PRNG.
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { basename, join } from 'node:path';
import { after, afterEach, beforeEach } from 'node:test';
import type { CodexdClient, CodexdError } from '../../client/index.js';
import { startFakeIssuer, type FakeIssuer } from '../../support/fake-issuer.js';
import { client, readLog, rpcError, sandbox, startDaemon, stopDaemons, waitFor, watch, type Daemon, type Sandbox, type Watch } from '../helpers.js';
export { peakRssKiB, rssKiB } from '../helpers.js';
import { collectIssuerSecrets, watchIssuer, type Secret } from '../secrets.js';

// ---------------------------------------------------------------------------------------------
// The report folder, which run.ts (`npm run test:hardening`) creates for the whole run. A file run
// on its own (`node --test dist/test/hardening/x.test.js`) still scans its own captures, and
// leaves no report behind.

const REPORT_DIR = process.env['CODEXD_HARDENING_REPORT'];

export interface Counts {
  cases: number;
  faults: number;
  bytes: number;
}

export interface FileReport extends Counts {
  category: string;
  file: string;
  /** Secrets this file found in its own captures (the summary scans everything again). */
  secretsFound: number;
  secretsScanned: number;
  skipped: string[];
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// The per-file suite.

export interface Suite {
  category: string;
  counts: Counts;
  /**
   * Cases and faults are counted, not declared: each test is one case, and its fault survived when
   * it passes. A test that runs several cases (one per input, per round) says how many with `ran`.
   */
  ran(cases: number): void;
  /** Bytes sent at the daemon. */
  count(delta: { bytes: number }): void;
  skip(reason: string): void;
  note(text: string): void;
  box(env?: NodeJS.ProcessEnv): Sandbox;
  daemon(box: Sandbox, options?: Parameters<typeof startDaemon>[1]): Promise<Daemon>;
  issuer(): Promise<FakeIssuer>;
  client(box: Sandbox, socket?: string): Promise<CodexdClient>;
  /** A client whose notifications are recorded (and captured for the secret scan). */
  watcher(box: Sandbox): Promise<Watch>;
  /** Something a user or a client saw: scanned for secrets at the end. */
  capture(where: string, text: string): void;
  /** A secret the issuers never saw (an API key typed by the user, say). */
  secret(label: string, value: string): void;
  /** The JSON-RPC error a call ends with (captured); fails when it succeeds. */
  rpcError(call: Promise<unknown>): Promise<CodexdError>;
}

let current: Suite | null = null;

export function suite(category: string): Suite {
  assert.equal(current, null, 'one suite per test file');
  const boxes: Sandbox[] = [];
  const daemons: Daemon[] = [];
  const issuers: FakeIssuer[] = [];
  const clients: CodexdClient[] = [];
  const captured: Array<{ where: string; text: string }> = [];
  const extra: Secret[] = [];
  const skipped: string[] = [];
  const notes: string[] = [];
  const ps = startPsSampler();
  let ranInTest = 0;
  const s: Suite = {
    category,
    counts: { cases: 0, faults: 0, bytes: 0 },
    ran(cases) {
      ranInTest += cases;
    },
    count(delta) {
      s.counts.bytes += delta.bytes;
    },
    skip(reason) {
      skipped.push(reason);
    },
    note(text) {
      notes.push(text);
    },
    box(env = {}) {
      const b = sandbox(env);
      boxes.push(b);
      return b;
    },
    async daemon(box, options = {}) {
      const d = await startDaemon(box, options);
      daemons.push(d);
      return d;
    },
    async issuer() {
      const i = watchIssuer(await startFakeIssuer());
      issuers.push(i);
      return i;
    },
    async client(box, socket) {
      const c = await client(box, socket);
      clients.push(c);
      return c;
    },
    async watcher(box) {
      return watch(await s.client(box), (method, value) => s.capture(`${method} notification`, JSON.stringify(value)));
    },
    capture(where, text) {
      captured.push({ where, text });
    },
    secret(label, value) {
      extra.push({ label, value });
    },
    async rpcError(call) {
      const error = await rpcError(call);
      s.capture('JSON-RPC error message', `${error.code} ${error.message}`);
      return error;
    },
  };
  current = s;

  // A skipped test runs no afterEach hook: it counts nothing.
  beforeEach(() => {
    ranInTest = 0;
  });
  afterEach((t) => {
    const cases = ranInTest || 1;
    s.counts.cases += cases;
    // TestContext.passed (Node 20.12+) is not in @types/node 20 yet.
    if ((t as { passed?: boolean }).passed === true) s.counts.faults += cases;
  });

  after(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
    await stopDaemons(daemons);
    await Promise.all(issuers.map((i) => i.close()));
    ps.stop();
    for (const b of boxes) {
      captured.push({ where: `daemon log of ${b.dir}`, text: readLog(b) });
      for (const text of b.captured) captured.push({ where: `process output in ${b.dir}`, text });
      b.cleanup();
    }
    captured.push({ where: 'ps -eo args', text: ps.text() });
    const secrets = dedupeSecrets([...issuers.flatMap((i) => collectIssuerSecrets(i)), ...extra]);
    const found = findSecrets(captured, secrets);
    writeReport({
      category,
      file: basename(process.argv[1] ?? 'unknown'),
      ...s.counts,
      secretsFound: found.length,
      secretsScanned: secrets.length,
      skipped,
      notes,
    }, captured, secrets);
    current = null;
    assert.deepEqual(found, [], `secrets found in what ${category} captured`);
  });
  return s;
}

function dedupeSecrets(secrets: Secret[]): Secret[] {
  const seen = new Map<string, Secret>();
  for (const secret of secrets) if (secret.value.length >= 8 && !seen.has(secret.value)) seen.set(secret.value, secret);
  return [...seen.values()];
}

/** Labels and places of every secret that occurs in the captures (never the value itself). */
export function findSecrets(captured: Array<{ where: string; text: string }>, secrets: Secret[]): string[] {
  const found: string[] = [];
  for (const { where, text } of captured) {
    for (const secret of secrets) if (text.includes(secret.value)) found.push(`${secret.label} in ${where}`);
  }
  return found;
}

function writeReport(report: FileReport, captured: Array<{ where: string; text: string }>, secrets: Secret[]): void {
  if (!REPORT_DIR) return;
  const name = `${report.file.replace(/\W+/g, '_')}-${process.pid}`;
  writeFileSync(join(REPORT_DIR, `${name}.report.json`), JSON.stringify(report), { mode: 0o600 });
  writeFileSync(join(REPORT_DIR, `${name}.captured.json`), JSON.stringify(captured), { mode: 0o600 });
  writeFileSync(join(REPORT_DIR, `${name}.secrets.json`), JSON.stringify(secrets), { mode: 0o600 });
}

export interface FileResults {
  report: FileReport;
  captured: Array<{ where: string; text: string }>;
  secrets: Secret[];
}

/** What every file of this run left in the report folder `dir`, by file. */
export function readReports(dir: string): FileResults[] {
  const read = <T>(name: string): T => JSON.parse(readFileSync(join(dir, name), 'utf8')) as T;
  return readdirSync(dir)
    .filter((name) => name.endsWith('.report.json'))
    .sort()
    .map((name) => {
      const stem = name.slice(0, -'.report.json'.length);
      return { report: read<FileReport>(name), captured: read(`${stem}.captured.json`), secrets: read(`${stem}.secrets.json`) };
    });
}

export function allSecrets(results: FileResults[]): Secret[] {
  return dedupeSecrets(results.flatMap((r) => r.secrets));
}

/** `ps -eo args` every 300 ms while the file runs: a secret on a command line would show here. */
function startPsSampler(): { stop(): void; text(): string } {
  const lines = new Set<string>();
  let stopped = false;
  const sample = (): void => {
    if (stopped) return;
    execFile('ps', ['-eo', 'args'], { maxBuffer: 16 * 1024 * 1024 }, (error, stdout) => {
      if (!error) for (const line of stdout.split('\n')) lines.add(line);
      if (!stopped) setTimeout(sample, 300).unref();
    });
  };
  sample();
  return {
    stop: () => void (stopped = true),
    text: () => [...lines].join('\n'),
  };
}

// ---------------------------------------------------------------------------------------------
// Raw socket access.

export function frame(body: string | Buffer): Buffer {
  const bytes = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([Buffer.from(`Content-Length: ${bytes.length}\r\n\r\n`, 'ascii'), bytes]);
}

export function request(id: number | string, method: string, params?: unknown): Buffer {
  const message: Record<string, unknown> = { jsonrpc: '2.0', id, method };
  if (params !== undefined) message['params'] = params;
  return frame(JSON.stringify(message));
}

export interface RpcMessage {
  jsonrpc?: string;
  id?: number | string | null;
  method?: string;
  result?: unknown;
  error?: { code: number; message: string };
  params?: unknown;
}

/** A raw connection that parses what the daemon sends back into messages. */
export class RawConnection {
  readonly messages: RpcMessage[] = [];
  /** Bytes received that did not parse as frames (must stay empty). */
  garbage = '';
  closed = false;
  closedAt = 0;
  error: NodeJS.ErrnoException | null = null;
  readonly done: Promise<void>;
  private buffer = Buffer.alloc(0);

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => (this.error = error));
    this.done = new Promise((resolve) =>
      socket.on('close', () => {
        this.closed = true;
        this.closedAt = Date.now();
        resolve();
      }),
    );
  }

  static open(path: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = netConnect(path);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawConnection(socket));
      });
      socket.once('error', reject);
    });
  }

  write(data: Buffer | string): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed) return resolve();
      this.socket.write(data, () => resolve());
    });
  }

  byId(id: number | string): RpcMessage | undefined {
    return this.messages.find((m) => m.id === id);
  }

  async call(id: number | string, method: string, params?: unknown, timeoutMs = 5000): Promise<RpcMessage> {
    await this.write(request(id, method, params));
    return waitFor(() => this.byId(id), `the answer to ${method} (id ${id})`, timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const match = /^Content-Length: (\d+)$/i.exec(this.buffer.subarray(0, end).toString('ascii'));
      if (!match) {
        this.garbage += this.buffer.toString('latin1');
        this.buffer = Buffer.alloc(0);
        return;
      }
      const length = Number(match[1]);
      if (this.buffer.length < end + 4 + length) return;
      const body = this.buffer.subarray(end + 4, end + 4 + length).toString('utf8');
      this.buffer = this.buffer.subarray(end + 4 + length);
      try {
        this.messages.push(JSON.parse(body) as RpcMessage);
      } catch {
        this.garbage += body;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// /proc.

export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

// ---------------------------------------------------------------------------------------------
// Mounts (root only).

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Mounts a tmpfs of `size` (which may carry more options: `1m,nr_inodes=64`) at `dir`; returns why not when it cannot. */
export function mountTmpfs(dir: string, size: string, mode = '0700'): string | null {
  if (!isRoot()) return 'mounting a tmpfs needs root (run the suite as root, or in a container with CAP_SYS_ADMIN)';
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=${mode}`, 'tmpfs', dir], { encoding: 'utf8' });
  if (result.status !== 0) return `mount -t tmpfs failed: ${(result.stderr || result.error?.message || '').trim()}`;
  return null;
}

/**
 * Makes `dir` read-only from now on by stacking a read-only bind mount of it on itself. A plain
 * `remount,ro` would fail with EBUSY while the daemon holds files open for writing (its lock);
 * the new mount has no writers, and every path lookup from now on goes through it. Returns why
 * not when it cannot; `umount(dir)` makes it writable again.
 */
export function bindReadOnly(dir: string): string | null {
  if (!isRoot()) return 'a read-only bind mount needs root (as root, chmod alone cannot make a folder read-only)';
  const bind = spawnSync('mount', ['--bind', dir, dir], { encoding: 'utf8' });
  if (bind.status !== 0) return `mount --bind failed: ${(bind.stderr || bind.error?.message || '').trim()}`;
  const ro = spawnSync('mount', ['-o', 'remount,bind,ro', dir], { encoding: 'utf8' });
  if (ro.status !== 0) {
    spawnSync('umount', [dir]);
    return `mount -o remount,bind,ro failed: ${(ro.stderr || '').trim()}`;
  }
  return null;
}

/** Unmounts the top mount at `dir`. */
export function umount(dir: string): void {
  spawnSync('umount', ['-l', dir]);
}

// ---------------------------------------------------------------------------------------------
// Seeded randomness (mulberry32): the same seed replays the same cases.

export interface Prng {
  seed: number;
  next(): number;
  int(maxExclusive: number): number;
  pick<T>(items: readonly T[]): T;
  bytes(length: number): Buffer;
  chance(p: number): boolean;
}

export function prng(seed: number): Prng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (max: number): number => Math.floor(next() * max);
  return {
    seed,
    next,
    int,
    pick: (items) => items[int(items.length)]!,
    bytes: (length) => {
      const out = Buffer.alloc(length);
      for (let i = 0; i < length; i++) out[i] = int(256);
      return out;
    },
    chance: (p) => next() < p,
  };
}

/** The seed of this run: CODEXD_HARDENING_SEED, else random; always printed so a failure can be replayed. */
export function runSeed(name: string): number {
  const fromEnv = process.env['CODEXD_HARDENING_SEED'];
  const seed = fromEnv ? Number(fromEnv) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
  process.stdout.write(`# ${name}: seed ${seed} (replay with CODEXD_HARDENING_SEED=${seed})\n`);
  return seed;
}
