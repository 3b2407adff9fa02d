// Interop (issue 15): with `cli_auth_credentials_store = "keyring"`, the real Codex CLI 0.169.0 and
// codexd share one login in one Secret Service entry (gnome-keyring on a private bus): Codex reads
// what codexd stored, codexd adopts what Codex stored within 2 s, and a `codex exec` running
// beside codexd makes no refresh while codexd rotates the tokens inside the entry.
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { startFakeIssuer, type FakeIssuer, type RecordedRequest } from '../../support/fake-issuer.js';
import { cli, client, fileSandbox, hasAuth, sleep, startDaemon, waitFor, type Sandbox } from '../helpers.js';
import { secretServiceMissing, startSecretService, type SecretService } from '../keyring-support.js';
import { codexEnv, ensureCodex, runCodex, startCodex, startFakeBackend, withoutTmpWarning, writeCodexConfig, type FakeBackend } from './codex-cli.js';
import { keyringAccount } from '../../daemon/keyring/client.js';

const KEY = 'sk-proj-interop-keyring-0123456789abcdefXYZ12';
const OUTSIDE = 'sk-proj-interop-keyring-outside-fedcba987654';
const PICKUP_MS = 2000;
const EXEC_MS = 8000;

const skip = secretServiceMissing ?? false;
let ss: SecretService;
let issuer: FakeIssuer;
let backend: FakeBackend;

before(async () => {
  if (skip) return;
  ensureCodex();
  ss = await startSecretService();
  issuer = await startFakeIssuer();
  backend = await startFakeBackend();
});

after(async () => {
  await issuer?.close();
  await backend?.close();
  await ss?.stop();
});

/** A sandbox in keyring mode on the test's Secret Service, with Codex kept on loopback. */
function keyringBox(): Sandbox {
  const b = fileSandbox({ CODEXD_ISSUER: issuer.url, CODEXD_LOGIN_PORT: '0', DBUS_SESSION_BUS_ADDRESS: ss.env.DBUS_SESSION_BUS_ADDRESS });
  writeCodexConfig(b.codexHome, backend.url);
  appendFileSync(join(b.codexHome, 'config.toml'), 'cli_auth_credentials_store = "keyring"\n');
  return b;
}

function codexKeyringEnv(b: Sandbox): NodeJS.ProcessEnv {
  return codexEnv(b, { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token`, CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke` });
}

async function codexLoginStatus(t: TestContext, b: Sandbox): Promise<{ code: number | null; text: string }> {
  const result = await runCodex(['login', 'status'], codexKeyringEnv(b));
  const text = withoutTmpWarning(result.stdout + result.stderr).trim();
  t.diagnostic(`codex login status (exit ${result.code}): ${JSON.stringify(text)}`);
  return { code: result.code, text };
}

function refreshes(): RecordedRequest[] {
  return issuer.requests.filter((r) => r.method === 'POST' && r.path === '/oauth/token' && r.body['grant_type'] === 'refresh_token');
}

describe('Codex CLI 0.169 and codexd share the keyring entry', { skip }, () => {
  it('codex login status reads the API key and the ChatGPT login codexd stored in the keyring', async (t) => {
    const b = keyringBox();
    const daemon = await startDaemon(b);
    try {
      const login = await cli(b, ['login', '--with-api-key'], { input: KEY });
      assert.equal(login.code, 0, login.stderr);
      assert.equal(hasAuth(b), false);
      const apiKey = await codexLoginStatus(t, b);
      assert.equal(apiKey.code, 0, apiKey.text);
      assert.equal(apiKey.text, `API key configured - ${KEY.slice(0, 8)}***${KEY.slice(-5)}\nAuthentication is checked when you send a request.`);

      issuer.devicePendingPolls = 0;
      const device = await cli(b, ['login', '--device-auth', '--no-browser'], { timeoutMs: 30_000 });
      assert.equal(device.code, 0, `${device.stdout}\n${device.stderr}`);
      const chatgpt = await codexLoginStatus(t, b);
      assert.equal(chatgpt.code, 0, chatgpt.text);
      assert.equal(chatgpt.text, 'Logged in using ChatGPT');
      assert.equal(hasAuth(b), false);
    } finally {
      issuer.devicePendingPolls = 1;
      await daemon.stop();
    }
  });

  it('codexd adopts a key stored by codex login --with-api-key within 2 s', async (t) => {
    const b = keyringBox();
    const daemon = await startDaemon(b);
    const c = await client(b);
    try {
      assert.equal((await c.read()).account, null);
      const codex = await runCodex(['login', '--with-api-key'], codexKeyringEnv(b), { input: OUTSIDE });
      assert.equal(codex.code, 0, codex.stderr);
      assert.equal(ss.lookup(keyringAccount(b.codexHome)), `{"auth_mode":"apikey","OPENAI_API_KEY":"${OUTSIDE}"}`, 'Codex stored compact JSON under the same account');
      const tokenAt = await waitFor(
        async () => {
          const token = await c.token().catch(() => null);
          return token?.type === 'apiKey' && token.apiKey === OUTSIDE ? Date.now() : null;
        },
        'account/token to return the key Codex stored',
        PICKUP_MS + 1000,
      );
      t.diagnostic(`account/token returned the key Codex stored ${tokenAt - codex.endedAt} ms after codex login exited`);
      assert.ok(tokenAt - codex.endedAt <= PICKUP_MS, `${tokenAt - codex.endedAt} ms`);
    } finally {
      await c.close();
      await daemon.stop();
    }
  });

  it('a codex exec beside codexd makes no refresh while codexd rotates the tokens in the entry', { timeout: 90_000 }, async (t) => {
    const b = keyringBox();
    const account = keyringAccount(b.codexHome);
    // Tokens live 605 s: codexd (margin 600 s) rotates them every ~5 s; Codex (5-minute window) never would.
    const ttl = issuer.accessTokenTtlS;
    issuer.accessTokenTtlS = 605;
    const tokens = issuer.mintTokens({ accessExpiresInS: 8 * 60 });
    ss.store(account, JSON.stringify({ auth_mode: 'chatgpt', OPENAI_API_KEY: null, tokens: { ...tokens, account_id: issuer.account.accountId }, last_refresh: new Date(Date.now() - 3600_000).toISOString() }));
    const baseline = refreshes().length;
    const daemon = await startDaemon(b);
    // Every access token the entry held while both ran.
    const held = new Set<string>();
    let unparsable = 0;
    const sampler = setInterval(() => {
      const raw = ss.lookup(account);
      try {
        if (raw) held.add((JSON.parse(raw) as { tokens: { access_token: string } }).tokens.access_token);
      } catch {
        unparsable += 1;
      }
    }, 100);
    try {
      await waitFor(() => refreshes().length > baseline, 'codexd to refresh', 10_000);
      const backendSeen = backend.requests.length;
      const codex = startCodex(['exec', '--skip-git-repo-check', 'hi'], codexKeyringEnv(b));
      await Promise.race([sleep(EXEC_MS), codex.exited]);
      await codex.stop();
      const seen = refreshes().slice(baseline);
      t.diagnostic(`refreshes while both ran: ${seen.length}, by ${seen.map((r) => r.headers['user-agent']).join(', ')}`);
      assert.ok(seen.length >= 2, `codexd kept rotating the tokens (${seen.length} refreshes)`);
      assert.deepEqual(seen.filter((r) => !/^codexd\//.test(r.headers['user-agent'] ?? '')), [], 'Codex made no refresh');
      const bearers = [...new Set(backend.requests.slice(backendSeen).map((r) => r.authorization?.replace(/^Bearer /, '')).filter((a): a is string => !!a))];
      assert.ok(bearers.length > 0, 'codex exec called the (loopback) backend with a bearer token');
      for (const bearer of bearers) assert.ok(held.has(bearer), 'Codex sent only access tokens the entry held');
      assert.equal(unparsable, 0);
      assert.equal(hasAuth(b), false);
    } finally {
      clearInterval(sampler);
      issuer.accessTokenTtlS = ttl;
      await daemon.stop();
    }
  });
});
