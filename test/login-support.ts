// Shared plumbing for the login tests: a "world" (fake issuer, sandbox, running codexd, and a
// watching client connected before anything happens), the consent click without a browser,
// raw HTTP to the callback server, a headless Chromium, and the end-of-file secret scan.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import type { CodexdClient, LoginCompleted, LoginStartResult, Status } from '../client/index.js';
import { startFakeIssuer, type FakeIssuer } from '../support/fake-issuer.js';
import { client, everythingCaptured, readLog, sandbox, startDaemon, stopDaemons, watch, type Daemon, type Recorder, type Sandbox } from './helpers.js';
import { assertNoSecrets, collectIssuerSecrets, watchIssuer, type Secret } from './secrets.js';

export interface World {
  /** The test's name, for secret-scan failures. */
  name: string;
  issuer: FakeIssuer;
  box: Sandbox;
  daemon: Daemon;
  /** A second client, connected before the test does anything, that only listens. */
  watcher: CodexdClient;
  updates: Recorder<Status>;
  completed: Recorder<LoginCompleted>;
  clients: CodexdClient[];
  /** Exact strings the user is meant to see (the authorize URL, the device code). */
  shown: string[];
  /** Secrets the test used that the issuer never saw (an API key typed by the user). */
  extraSecrets: Secret[];
  /** Another client on the same daemon; closed at the end. */
  client(): Promise<CodexdClient>;
}

export interface WorldOptions {
  /** Environment for the sandbox (and so the daemon and the CLI); null removes a variable. */
  env?: Record<string, string | null>;
  /** Runs before the daemon starts (write fixtures here). */
  before?: (world: Pick<World, 'issuer' | 'box'>) => void | Promise<void>;
  /** Use this issuer URL instead of the fake's (an unreachable one, say). */
  issuerUrl?: string;
}

const worlds: World[] = [];

export async function world(name: string, options: WorldOptions = {}): Promise<World> {
  const issuer = watchIssuer(await startFakeIssuer());
  const env: NodeJS.ProcessEnv = { CODEXD_ISSUER: options.issuerUrl ?? issuer.url, CODEXD_LOGIN_PORT: '0' };
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === null) delete env[key];
    else env[key] = value;
  }
  const box = sandbox(env);
  for (const [key, value] of Object.entries(options.env ?? {})) if (value === null) delete box.env[key];
  let daemon: Daemon | undefined;
  let watcher: CodexdClient;
  try {
    await options.before?.({ issuer, box });
    daemon = await startDaemon(box);
    watcher = await client(box);
  } catch (error) {
    await daemon?.stop();
    await issuer.close();
    box.cleanup();
    throw error;
  }
  const { updates, completed } = watch(watcher);
  const w: World = {
    name,
    issuer,
    box,
    daemon,
    watcher,
    updates,
    completed,
    clients: [watcher],
    shown: [],
    extraSecrets: [],
    client: async () => {
      const c = await client(box);
      w.clients.push(c);
      return c;
    },
  };
  worlds.push(w);
  return w;
}

/**
 * For the file's after-hook: stops every daemon (so its stderr is captured), then scans every
 * log and every captured output for every secret the test's issuer saw or handed out. The
 * daemon's own log must not carry even the strings shown to the user.
 */
export async function finishWorlds(): Promise<void> {
  const problems: string[] = [];
  for (const w of worlds.splice(0)) {
    try {
      await Promise.all(w.clients.map((c) => c.close()));
      await stopDaemons([w.daemon]);
      await w.issuer.close();
      const secrets = [...collectIssuerSecrets(w.issuer), ...w.extraSecrets];
      if (secrets.length === 0) continue; // this test never got as far as a secret
      try {
        assertNoSecrets(readLog(w.box), secrets, { where: `the daemon log of "${w.name}"` });
        assertNoSecrets(everythingCaptured(w.box), secrets, { shown: w.shown, where: `the output captured in "${w.name}"` });
      } catch (error) {
        problems.push((error as Error).message);
      }
    } finally {
      w.box.cleanup();
    }
  }
  if (problems.length > 0) throw new Error(problems.join('\n'));
}

export function browserStart(result: LoginStartResult): { loginId: string; authUrl: string; port: number; state: string; redirectUri: string } {
  if (result.type !== 'chatgpt') throw new Error(`expected a chatgpt login, got ${result.type}`);
  const url = new URL(result.authUrl);
  const redirectUri = url.searchParams.get('redirect_uri') ?? '';
  return {
    loginId: result.loginId,
    authUrl: result.authUrl,
    redirectUri,
    port: Number(new URL(redirectUri).port),
    state: url.searchParams.get('state') ?? '',
  };
}

/**
 * What the consent page's Continue button does, without a browser: posts the decision to the
 * fake issuer and returns where it redirects (the callback URL with code and state, or an error).
 */
export async function consent(issuer: FakeIssuer, authUrl: string, decision: 'approve' | 'deny' = 'approve'): Promise<string> {
  const query = new URL(authUrl).search;
  const response = await fetch(`${issuer.url}/oauth/consent${query}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `decision=${decision}`,
    redirect: 'manual',
  });
  const location = response.headers.get('location');
  if (response.status !== 302 || !location) throw new Error(`consent did not redirect: ${response.status} ${await response.text()}`);
  return location;
}

export interface HttpReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A GET that follows no redirect and sends exactly the Host header given (fetch can't). */
export function httpGet(url: string, headers: Record<string, string> = {}): Promise<HttpReply> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: Number(target.port), path: `${target.pathname}${target.search}`, headers: { host: target.host, ...headers }, timeout: 20_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${target.pathname} got no answer`)));
    req.on('error', reject);
    req.end();
  });
}

/** True once nothing accepts connections on 127.0.0.1:port. */
export function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', timeout: 2000 }, (res) => {
      res.resume();
      resolve(false);
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
    req.end();
  });
}

/** A port that was free a moment ago, and nothing listens on now. */
export function deadPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Waits for the pending login the watcher was told about. */
export async function pendingLoginId(w: World): Promise<string> {
  const status = await w.updates.next((s) => s.login !== null, 20_000);
  return status.login!.loginId;
}

export const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why the browser tests cannot run here; on a workstation they are skipped, in CI they fail. */
export const chromiumMissing = existsSync(CHROMIUM) ? null : `${CHROMIUM} is missing (apt-get install -y chromium); the browser tests need it`;

/** Runs `work` on a page of a headless Chromium with a fresh profile, which is removed afterwards. */
export async function inChromium<T>(work: (page: Page) => Promise<T>): Promise<T> {
  const { chromium } = await import('playwright-core');
  const profile = mkdtempSync(join(tmpdir(), 'codexd-chromium-'));
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true, timeout: 60_000 }).catch((error: unknown) => {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(30_000);
    return await work(page);
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}
