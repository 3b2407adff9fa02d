// Interop (issue 2): `codex login status` of the real Codex CLI 0.169.0 reports the logins that
// codexd wrote: an API key, a ChatGPT device-code login and a ChatGPT browser login, the last two
// with tokens from the fake issuer.
import assert from 'node:assert/strict';
import { after, before, test, type TestContext } from 'node:test';
import { startFakeIssuer, type FakeIssuer } from '../../support/fake-issuer.js';
import { cli, client, readAuth, sandbox, startDaemon, waitFor, type Sandbox } from '../helpers.js';
import { codexEnv, ensureCodex, readAuthFile, runCodex, withoutTmpWarning } from './codex-cli.js';

const KEY = 'sk-proj-interop-status-0123456789abcdefXYZ12';

let issuer: FakeIssuer;
const boxes: Sandbox[] = [];

before(async () => {
  ensureCodex();
  issuer = await startFakeIssuer();
});

after(async () => {
  await issuer.close();
  for (const box of boxes) box.cleanup();
});

function box(): Sandbox {
  const created = sandbox({ CODEXD_ISSUER: issuer.url, CODEXD_LOGIN_PORT: '0' });
  boxes.push(created);
  return created;
}

async function codexLoginStatus(t: TestContext, b: Sandbox): Promise<{ code: number | null; text: string }> {
  const result = await runCodex(['login', 'status'], codexEnv(b));
  const text = withoutTmpWarning(result.stdout + result.stderr).trim();
  JSON.parse(readAuth(b)); // still parses after Codex read it
  t.diagnostic(`codex login status (exit ${result.code}) printed on stdout ${JSON.stringify(result.stdout)} and on stderr ${JSON.stringify(withoutTmpWarning(result.stderr))}`);
  return { code: result.code, text };
}

test('codex login status reports the API key that codex-auth login --with-api-key stored', async (t) => {
  const b = box();
  const daemon = await startDaemon(b);
  try {
    const login = await cli(b, ['login', '--with-api-key'], { input: KEY });
    assert.equal(login.code, 0, login.stderr);

    const status = await codexLoginStatus(t, b);
    assert.equal(status.code, 0, status.text);
    // Codex 0.169.0 masks as older releases did: the first 8 characters, ***, the last 5.
    const masked = `${KEY.slice(0, 8)}***${KEY.slice(-5)}`;
    assert.equal(status.text, `API key configured - ${masked}\nAuthentication is checked when you send a request.`);
  } finally {
    await daemon.stop();
  }
});

test('codex login status reports a ChatGPT device-code login that codexd wrote', async (t) => {
  const b = box();
  const daemon = await startDaemon(b);
  issuer.devicePendingPolls = 0;
  try {
    const login = await cli(b, ['login', '--device-auth', '--no-browser'], { timeoutMs: 30_000 });
    assert.equal(login.code, 0, `${login.stdout}\n${login.stderr}`);
    const written = readAuthFile(b.codexHome);
    assert.equal(written.auth_mode, 'chatgpt');
    assert.equal(written.tokens?.account_id, issuer.account.accountId);
    assert.equal(written.OPENAI_API_KEY, null, 'a device-code login stores no API key');

    const status = await codexLoginStatus(t, b);
    assert.equal(status.code, 0, status.text);
    assert.equal(status.text, 'Logged in using ChatGPT');
  } finally {
    issuer.devicePendingPolls = 1;
    await daemon.stop();
  }
});

test('codex login status reports a ChatGPT browser login (with its exchanged API key) that codexd wrote', async (t) => {
  const b = box();
  const daemon = await startDaemon(b);
  const c = await client(b);
  try {
    const completed = new Promise<{ success: boolean; error: string | null }>((resolve) => c.onLoginCompleted(resolve));
    const started = await c.loginStart({ type: 'chatgpt', openBrowser: false });
    assert.equal(started.type, 'chatgpt');
    const authUrl = new URL((started as { authUrl: string }).authUrl);

    // What the person's browser would do: consent at the issuer, then follow the redirect to codexd.
    const consent = await fetch(`${issuer.url}/oauth/consent${authUrl.search}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'decision=approve',
      redirect: 'manual',
    });
    assert.equal(consent.status, 302);
    const callback = new URL(consent.headers.get('location')!);
    callback.hostname = '127.0.0.1'; // codexd's callback server binds 127.0.0.1 only
    const answer = await fetch(callback, { redirect: 'manual' });
    await answer.arrayBuffer();
    const result = await completed;
    assert.equal(result.success, true, result.error ?? '');

    const written = readAuthFile(b.codexHome);
    assert.equal(written.auth_mode, 'chatgpt');
    assert.match(written.OPENAI_API_KEY ?? '', /^sk-fake-/, 'the browser login stores the exchanged API key');

    const status = await codexLoginStatus(t, b);
    assert.equal(status.code, 0, status.text);
    assert.equal(status.text, 'Logged in using ChatGPT');
    await waitFor(async () => (await c.read()).state === 'ok', 'codexd to report the login');
  } finally {
    await c.close();
    await daemon.stop();
  }
});
