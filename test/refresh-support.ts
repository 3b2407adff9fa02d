// Shared pieces of the refresh tests (refresh-*.test.ts): auth.json fixtures in Codex's format,
// "another writer" (outside rotation, atomic writes, Codex's auth.lock), a delaying proxy in
// front of the fake issuer, and a per-test scene that cleans up after itself.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { CodexdClient } from '../client/index.js';
import { DEFAULT_CLIENT_ID, startFakeIssuer, type FakeAccount, type FakeIssuer, type RecordedRequest, type TokenSet } from '../support/fake-issuer.js';
import { authPath, client, readLog, sandbox, sleep, startDaemon, stopDaemons, waitFor, watch, type Daemon, type Sandbox, type Watch } from './helpers.js';

export const OTHER_ACCOUNT: FakeAccount = {
  email: 'other@example.com',
  planType: 'plus',
  accountId: 'acct_other_456',
  userId: 'user_other_456',
};

export const MESSAGES = {
  expired: 'Your access token could not be refreshed because your refresh token has expired. Please log out and sign in again.',
  reused: 'Your access token could not be refreshed because your refresh token was already used. Please log out and sign in again.',
  revoked: 'Your access token could not be refreshed because your refresh token was revoked. Please log out and sign in again.',
  other: 'Your access token could not be refreshed. Please log out and sign in again.',
} as const;

/** RFC 3339 UTC with microseconds, as Codex writes `last_refresh`. */
export function codexTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export interface Fixture {
  tokens: TokenSet;
  accountId: string;
  lastRefresh: string;
  /** The exact bytes of auth.json. */
  raw: string;
}

/** auth.json as Codex CLI 0.169 writes it: serde `to_string_pretty`, 2-space indent, no newline. */
export function codexAuthJson(tokens: TokenSet, accountId: string, lastRefresh: string): string {
  const { id_token, access_token, refresh_token } = tokens;
  return JSON.stringify(
    { auth_mode: 'chatgpt', OPENAI_API_KEY: null, tokens: { id_token, access_token, refresh_token, account_id: accountId }, last_refresh: lastRefresh },
    null,
    2,
  );
}

export function fixture(tokens: TokenSet, account: FakeAccount, lastRefresh = '2025-06-01T08:00:00.000000Z'): Fixture {
  return { tokens, accountId: account.accountId, lastRefresh, raw: codexAuthJson(tokens, account.accountId, lastRefresh) };
}

/** What another writer does: a temp file in the same folder, then rename over auth.json. */
export function writeAtomically(codexHome: string, contents: string): void {
  mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  const temp = join(codexHome, `.fixture-${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(temp, contents, { mode: 0o600 });
  renameSync(temp, join(codexHome, 'auth.json'));
}

/** The `exp` of a JWT, in ms. */
export function expMs(jwt: string): number {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as { exp: number };
  return payload.exp * 1000;
}

export function refreshRequests(issuer: FakeIssuer): RecordedRequest[] {
  return issuer.requests.filter((r) => r.path === '/oauth/token' && r.body['grant_type'] === 'refresh_token');
}

/** Another process (Codex CLI, say) redeems a refresh token at the issuer, exactly as Codex would. */
export async function rotateOutside(issuer: FakeIssuer, refreshToken: string): Promise<TokenSet> {
  const response = await fetch(`${issuer.url}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', originator: 'codex_cli_rs' },
    body: JSON.stringify({ client_id: DEFAULT_CLIENT_ID, grant_type: 'refresh_token', refresh_reason: 'proactive_expiry', refresh_token: refreshToken }),
  });
  const body = (await response.json()) as TokenSet;
  assert.equal(response.status, 200, `the outside rotation itself must succeed: ${JSON.stringify(body)}`);
  return body;
}

/** Revokes a refresh token at the issuer (what a logout elsewhere does). */
export async function revokeOutside(issuer: FakeIssuer, refreshToken: string): Promise<void> {
  const response = await fetch(`${issuer.url}/oauth/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: refreshToken, token_type_hint: 'refresh_token', client_id: DEFAULT_CLIENT_ID }),
  });
  assert.equal(response.status, 200);
}

function run(command: string, args: string[]): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: 'ignore' });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code));
  });
}

/** `flock -n <file> true`: 0 when nobody holds the lock, 1 when someone does. */
export function probeLock(file: string): Promise<number | null> {
  return run('flock', ['-n', file, 'true']);
}

/** `flock <lock> mv <temp> auth.json`: a writer that honours Codex's auth.lock, blocking until it is free. */
export async function writeUnderLock(codexHome: string, contents: string): Promise<void> {
  const temp = join(codexHome, `.fixture-${randomBytes(4).toString('hex')}.tmp`);
  writeFileSync(temp, contents, { mode: 0o600 });
  const code = await run('flock', [join(codexHome, 'auth.lock'), 'mv', temp, join(codexHome, 'auth.json')]);
  assert.equal(code, 0, 'flock ... mv must succeed');
}

export interface HeldFlock {
  release(): Promise<void>;
}

/** Holds an exclusive flock(1) on `file` until release(), like a Codex process in the middle of a write. */
export function holdLock(file: string): Promise<HeldFlock> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', [file, '-c', 'echo locked; exec cat'], { stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    child.once('error', reject);
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('locked')) {
        resolve({
          release: async () => {
            child.stdin.end();
            await exited;
          },
        });
      }
    });
  });
}

export interface ProxiedReply {
  path: string;
  status: number;
  body: string;
  at: number;
}

/**
 * A pass-through proxy in front of the fake issuer that can hold a request back (delayMs) or
 * answer it itself (inject), while the fake keeps doing the real rotation and reuse detection.
 */
export interface IssuerProxy {
  url: string;
  /** Requests received (before any delay). */
  received: Array<{ path: string; at: number; body: string }>;
  replies: ProxiedReply[];
  /** Requests being held back right now. */
  pending: number;
  delayMs: (path: string) => number;
  /** An answer of the proxy's own instead of forwarding; undefined forwards. */
  inject: (path: string) => { status: number; body: object } | undefined;
  /** Called right after a reply has been written to codexd. */
  onReply: ((reply: ProxiedReply) => void) | null;
  close(): Promise<void>;
}

export async function startProxy(target: string): Promise<IssuerProxy> {
  let server: Server;
  const proxy: IssuerProxy = {
    url: '',
    received: [],
    replies: [],
    pending: 0,
    delayMs: () => 0,
    inject: () => undefined,
    onReply: null,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  const readBody = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
    return Buffer.concat(chunks).toString('utf8');
  };
  server = createServer((req, res) => {
    void (async () => {
      const path = (req.url ?? '/').split('?')[0]!;
      const body = await readBody(req);
      proxy.received.push({ path, at: Date.now(), body });
      proxy.pending += 1;
      const delay = proxy.delayMs(path);
      if (delay > 0) await sleep(delay);
      proxy.pending -= 1;
      let status: number;
      let text: string;
      const injected = proxy.inject(path);
      if (injected) {
        status = injected.status;
        text = JSON.stringify(injected.body);
      } else {
        const headers: Record<string, string> = {};
        for (const name of ['content-type', 'accept', 'originator', 'user-agent']) {
          const value = req.headers[name];
          if (typeof value === 'string') headers[name] = value;
        }
        const forwarded = await fetch(`${target}${req.url ?? '/'}`, { method: req.method ?? 'GET', headers, body: req.method === 'GET' ? undefined : body });
        status = forwarded.status;
        text = await forwarded.text();
      }
      if (res.destroyed) return;
      res.writeHead(status, { 'content-type': 'application/json' }).end(text);
      const reply = { path, status, body: text, at: Date.now() };
      proxy.replies.push(reply);
      proxy.onReply?.(reply);
    })().catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  proxy.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return proxy;
}

/** One test's world: a fake issuer (optionally behind a proxy), a sandbox, daemons and clients. */
export interface Scene {
  issuer: FakeIssuer;
  proxy: IssuerProxy | null;
  box: Sandbox;
  authFile: string;
  lockFile: string;
  /** Starts codexd against the issuer (or the proxy), with the scene's env plus `env`. */
  start(options?: { env?: NodeJS.ProcessEnv; waitReady?: boolean }): Promise<Daemon>;
  /** A library client, closed when the test ends. */
  client(): Promise<CodexdClient>;
  /** A client plus recorders of its notifications. */
  watcher(): Promise<Watch>;
  /** Mints tokens and writes them as auth.json (atomically). */
  writeFixture(options?: { accessExpiresInS?: number; account?: FakeAccount; lastRefresh?: string }): Fixture;
  /** The daemon log, for failure messages. */
  log(): string;
}

export async function scene(t: TestContext, env: NodeJS.ProcessEnv = {}, options: { proxy?: boolean } = {}): Promise<Scene> {
  const issuer = await startFakeIssuer();
  const proxy = options.proxy ? await startProxy(issuer.url) : null;
  const box = sandbox({ CODEXD_ISSUER: proxy?.url ?? issuer.url, ...env });
  const daemons: Daemon[] = [];
  const clients: CodexdClient[] = [];
  t.after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await stopDaemons(daemons);
    await proxy?.close();
    await issuer.close();
    box.cleanup();
  });
  const s: Scene = {
    issuer,
    proxy,
    box,
    authFile: authPath(box),
    lockFile: join(box.codexHome, 'auth.lock'),
    async start(opts = {}) {
      const daemon = await startDaemon(box, { env: opts.env ?? {}, waitReady: opts.waitReady ?? true });
      daemons.push(daemon);
      return daemon;
    },
    async client() {
      const c = await client(box);
      clients.push(c);
      return c;
    },
    async watcher() {
      return watch(await s.client());
    },
    writeFixture(opts = {}) {
      const account = opts.account ?? issuer.account;
      const tokens = issuer.mintTokens({ accessExpiresInS: opts.accessExpiresInS ?? 3600, account });
      const f = fixture(tokens, account, opts.lastRefresh);
      writeAtomically(box.codexHome, f.raw);
      return f;
    },
    log: () => readLog(box).split('\n').slice(-40).join('\n'),
  };
  return s;
}

/** Waits until `issuer` has seen `n` refresh requests. */
export function waitForRefreshes(s: Scene, n: number, timeoutMs = 10_000): Promise<RecordedRequest[]> {
  return waitFor(() => {
    const seen = refreshRequests(s.issuer);
    return seen.length >= n ? seen : null;
  }, `${n} refresh request(s) at the issuer; log:\n${s.log()}`, timeoutMs);
}

export function readJson(file: string): { auth_mode: string; OPENAI_API_KEY: null; tokens: TokenSet & { account_id: string }; last_refresh: string } {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Temp files a writer left behind (Codex's `.auth-XXXXXX`). */
export function leftoverTempFiles(codexHome: string): string[] {
  return existsSync(codexHome) ? readdirSync(codexHome).filter((name) => /^\.auth-/.test(name)) : [];
}

/** libfaketime's preload library, from the Debian package `faketime` (libfaketime). */
export function libfaketime(): string {
  const candidates = [
    '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1',
    '/usr/lib/faketime/libfaketime.so.1',
    '/usr/local/lib/faketime/libfaketime.so.1',
  ];
  const found = candidates.find((path) => existsSync(path));
  assert.ok(found, 'libfaketime.so.1 not found: install the Debian package `faketime` (apt-get install -y faketime)');
  return found;
}
