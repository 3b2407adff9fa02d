// The browser login's redirect URI says `localhost`, and a browser may try ::1 before 127.0.0.1.
// Another local user listening on [::1] at the callback port would receive the callback (and show
// their page on the trusted origin). codexd holds ::1 on the same port as 127.0.0.1, and a port
// whose ::1 is taken counts as in use. Driven with a headless Chromium.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it, type TestContext } from 'node:test';
import { ErrorCodes, type CodexdError } from '../../client/index.js';
import { chromiumMissing, inChromium } from '../login-support.js';
import { suite } from './support.js';

const s = suite('login callback on ::1');

/** Why this file cannot run here, or null. */
async function cannotRun(): Promise<string | null> {
  if (chromiumMissing) return chromiumMissing;
  return listen6(0).then(
    async ({ server }) => {
      await close(server);
      return null;
    },
    (error: Error) => `this host has no IPv6 loopback (${error.message})`,
  );
}

/** A listener on [::1] (port 0: any), recording every request: the other local user. */
async function listen6(port: number, seen: string[] = []): Promise<{ server: Server; port: number; seen: string[] }> {
  const server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'text/html' }).end('<title>not codexd</title>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '::1', () => resolve());
  });
  return { server, port: (server.address() as AddressInfo).port, seen };
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Skips the test (and says so in the report) when this machine cannot run it. */
async function skipped(t: TestContext): Promise<boolean> {
  const reason = await cannotRun();
  if (reason) {
    s.skip(`${t.name}: ${reason}`);
    t.skip(reason);
  }
  return reason !== null;
}

describe('login callback on ::1', () => {
  it('another user listening on [::1] at the callback port: the port counts as taken, and Chromium never reaches them', async (t: TestContext) => {
    if (await skipped(t)) return;
    const intruder = await listen6(0);
    t.after(() => close(intruder.server));
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_LOGIN_PORT: String(intruder.port) });
    await s.daemon(box);
    const c = await s.client(box);
    let refused: CodexdError | undefined;
    try {
      const started = await c.loginStart({ type: 'chatgpt' });
      assert.equal(started.type, 'chatgpt');
      // The login started on a port someone else holds on ::1: follow it as a person would.
      await inChromium(async (page) => {
        await page.goto(started.authUrl);
        await page.click('#approve');
        await page.waitForLoadState('load');
      });
    } catch (error) {
      refused = error as CodexdError;
      s.capture('JSON-RPC error message', refused.message);
    }
    assert.deepEqual(intruder.seen, [], 'the listener on [::1] received nothing');
    assert.equal(refused?.code, ErrorCodes.loginFailed, 'the login does not start on a port whose ::1 is taken');
    assert.match(refused!.message, new RegExp(`Port ${intruder.port} is in use`));
    assert.equal(issuer.count('/oauth/token'), 0);
  });

  it('with ::1 free, codexd holds it for the whole login, nobody else can take it, and Chromium completes the login', async (t: TestContext) => {
    if (await skipped(t)) return;
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_LOGIN_PORT: '0' });
    await s.daemon(box);
    const { client: c, completed } = await s.watcher(box);
    const started = await c.loginStart({ type: 'chatgpt' });
    assert.equal(started.type, 'chatgpt');
    const port = Number(new URL(new URL(started.authUrl).searchParams.get('redirect_uri')!).port);
    const seen: string[] = [];
    const taken = await listen6(port, seen).then(
      async ({ server }) => {
        await close(server);
        return 'bound';
      },
      (error: NodeJS.ErrnoException) => error.code,
    );
    assert.equal(taken, 'EADDRINUSE', `another process could not bind [::1]:${port} while the login waits`);
    const successText = await inChromium(async (page) => {
      await page.goto(started.authUrl);
      await page.click('#approve');
      await page.waitForURL(/\/success(\?|$)/);
      return page.innerText('body');
    });
    assert.match(successText, /signed in/i);
    assert.deepEqual(await completed.next((e) => e.loginId === started.loginId, 10_000), { loginId: started.loginId, success: true, error: null });
  });
});
