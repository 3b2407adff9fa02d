// Interop (issue 4): with the real Codex CLI 0.169.0 pointed at the fake issuer
// (CODEX_REFRESH_TOKEN_URL_OVERRIDE), codexd is the one process that refreshes: Codex finds the
// fresh token codexd wrote and never refreshes. And the reverse: a refresh Codex made while codexd
// was stopped is adopted by codexd, which then makes no request of its own.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, test, type TestContext } from 'node:test';
import { startFakeIssuer, type FakeIssuer, type RecordedRequest } from '../../support/fake-issuer.js';
import { authPath, cli, client, readAuth, sandbox, sleep, startDaemon, waitFor, type Sandbox } from '../helpers.js';
import {
  codexEnv,
  ensureCodex,
  jwtExpMs,
  readAuthFile,
  runCodex,
  sampleAuthFile,
  startCodex,
  startFakeBackend,
  withoutTmpWarning,
  writeCodexConfig,
  type FakeBackend,
} from './codex-cli.js';
import { codexAuthJson } from '../refresh-support.js';

/** How long `codex exec` runs before it is stopped: it cannot reach a model, and need not. */
const EXEC_MS = 5000;

let issuer: FakeIssuer;
let backend: FakeBackend;
const boxes: Sandbox[] = [];

before(async () => {
  ensureCodex();
  issuer = await startFakeIssuer();
  backend = await startFakeBackend();
});

after(async () => {
  await issuer.close();
  await backend.close();
  for (const box of boxes) box.cleanup();
});

function refreshes(): RecordedRequest[] {
  return issuer.requests.filter((r) => r.method === 'POST' && r.path === '/oauth/token' && r.body['grant_type'] === 'refresh_token');
}

function describeRefreshes(list: RecordedRequest[]): string {
  return list.map((r) => `user-agent ${JSON.stringify(r.headers['user-agent'])}, originator ${JSON.stringify(r.headers['originator'])}`).join('; ') || 'none';
}

/** A sandbox whose CODEX_HOME holds a Codex config that keeps `codex exec` on loopback, and a ChatGPT login expiring in `expiresInS`. */
function prepare(expiresInS: number): { box: Sandbox; accessToken: string } {
  const b = sandbox({ CODEXD_ISSUER: issuer.url });
  boxes.push(b);
  writeCodexConfig(b.codexHome, backend.url);
  const tokens = issuer.mintTokens({ accessExpiresInS: expiresInS });
  const lastRefresh = new Date(Date.now() - 3600_000).toISOString().replace(/Z$/, '123Z');
  writeFileSync(authPath(b), codexAuthJson(tokens, issuer.account.accountId, lastRefresh), { mode: 0o600 });
  return { box: b, accessToken: tokens.access_token };
}

function codexRefreshEnv(b: Sandbox): NodeJS.ProcessEnv {
  return codexEnv(b, {
    CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token`,
    CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke`,
  });
}

/** Runs `codex exec --skip-git-repo-check "hi"` until `until` resolves (or EXEC_MS), then stops it. */
async function codexExec(t: TestContext, b: Sandbox, until: Promise<unknown> = sleep(EXEC_MS)): Promise<void> {
  const backendSeen = backend.requests.length;
  const codex = startCodex(['exec', '--skip-git-repo-check', 'hi'], codexRefreshEnv(b));
  const early = await Promise.race([until.then(() => null), codex.exited]);
  const result = early ?? (await codex.stop());
  const lines = withoutTmpWarning(result.stderr).split('\n').filter((line) => line.trim() !== '');
  t.diagnostic(
    `codex exec ran ${early ? 'and exited by itself' : 'until stopped'} (exit ${result.code}, signal ${result.signal}); ` +
      `stdout ${JSON.stringify(result.stdout.slice(0, 200))}; ${lines.length} stderr lines, first: ${JSON.stringify(lines.slice(0, 3))}; ` +
      `it made ${backend.requests.length - backendSeen} requests to the loopback backend`,
  );
}

test('codexd refreshes a token 8 minutes from expiry once; codex exec then uses it and never refreshes', async (t) => {
  const baseline = refreshes().length;
  const { box: b, accessToken: original } = prepare(8 * 60);
  const sampler = sampleAuthFile(b.codexHome);
  const daemon = await startDaemon(b); // default margin: 600 s
  const c = await client(b);
  try {
    await waitFor(() => refreshes().length > baseline, 'codexd to refresh at the issuer', 10_000);
    const status = await waitFor(async () => {
      const s = await c.read();
      return s.state === 'ok' && s.accessTokenExpiresAt && Date.parse(s.accessTokenExpiresAt) > Date.now() + 30 * 60_000 ? s : null;
    }, 'codexd to report the refreshed token');
    const refreshed = readAuthFile(b.codexHome);
    assert.notEqual(refreshed.tokens?.access_token, original, 'codexd wrote the new access token');
    assert.equal(Date.parse(status.accessTokenExpiresAt!), jwtExpMs(refreshed.tokens!.access_token));

    const backendSeen = backend.requests.length;
    await codexExec(t, b);

    const seen = refreshes().slice(baseline);
    t.diagnostic(`refresh requests at the issuer: ${describeRefreshes(seen)}`);
    assert.equal(seen.length, 1, `exactly one refresh: ${describeRefreshes(seen)}`);
    assert.match(seen[0]!.headers['user-agent'] ?? '', /^codexd\//, 'the one refresh is codexd\'s');
    assert.deepEqual(
      seen.filter((r) => /codex_(exec|cli_rs)/.test(r.headers['user-agent'] ?? '')),
      [],
      'Codex made no refresh',
    );

    // Codex used the token codexd refreshed, and left the file as codexd wrote it.
    const bearers = new Set(backend.requests.slice(backendSeen).map((r) => r.authorization?.replace(/^Bearer /, '')).filter(Boolean));
    assert.ok(bearers.size > 0, 'codex exec called the (loopback) backend with a bearer token');
    assert.deepEqual([...bearers], [refreshed.tokens!.access_token], 'Codex sent codexd\'s refreshed access token and no other');
    assert.deepEqual(readAuthFile(b.codexHome), refreshed);
    const token = await cli(b, ['token']);
    assert.equal(token.stdout.trim(), refreshed.tokens!.access_token);
  } finally {
    await c.close();
    await daemon.stop();
    const sampled = sampler.stop();
    t.diagnostic(`auth.json sampled ${sampled.samples} times while codexd and Codex ran: ${sampled.failures.length} failed to parse`);
    assert.deepEqual(sampled.failures, []);
  }
  JSON.parse(readAuth(b));
});

test('a refresh Codex made while codexd was stopped is adopted by codexd, which makes no request of its own', async (t) => {
  const baseline = refreshes().length;
  const { box: b, accessToken: original } = prepare(2 * 60); // inside Codex's 5-minute window
  const sampler = sampleAuthFile(b.codexHome);
  try {
    // codexd is not running: Codex has to refresh by itself. `codex login status` loads auth.json
    // but does not refresh, even inside the 5-minute window; `codex exec` does.
    const loginStatus = await runCodex(['login', 'status'], codexRefreshEnv(b));
    t.diagnostic(`codex login status with 2 minutes left (exit ${loginStatus.code}): ${JSON.stringify(withoutTmpWarning(loginStatus.stderr))}; refreshes: ${refreshes().length - baseline}`);
    assert.equal(loginStatus.code, 0);
    assert.equal(refreshes().length, baseline, 'codex login status made no refresh');
    await codexExec(t, b, waitFor(() => refreshes().length > baseline, 'Codex to refresh', 15_000).then(() => sleep(1000)));
    const byCodex = refreshes().slice(baseline);
    t.diagnostic(`refresh requests at the issuer while codexd was stopped: ${describeRefreshes(byCodex)}`);
    assert.equal(byCodex.length, 1, `Codex refreshed once: ${describeRefreshes(byCodex)}`);
    assert.match(byCodex[0]!.headers['user-agent'] ?? '', /^codex_exec\/0\.169\.0/);
    t.diagnostic(`Codex's refresh body: ${JSON.stringify({ ...byCodex[0]!.body, refresh_token: '<redacted>' })}`);

    const afterCodex = readAuth(b);
    const written = readAuthFile(b.codexHome);
    assert.notEqual(written.tokens?.access_token, original, 'Codex wrote the refreshed access token');
    t.diagnostic(`Codex wrote last_refresh ${JSON.stringify(written.last_refresh)}`);
    const newExpiry = jwtExpMs(written.tokens!.access_token);

    // Now codexd starts, finds Codex's fresh token (an hour left, outside its 600 s margin) and adopts it.
    const daemon = await startDaemon(b);
    const c = await client(b);
    try {
      const status = await waitFor(async () => {
        const s = await c.read();
        return s.state === 'ok' && s.accessTokenExpiresAt ? s : null;
      }, 'codexd to report the login');
      assert.equal(Date.parse(status.accessTokenExpiresAt!), newExpiry, 'account/read shows the expiry of the token Codex refreshed');
      assert.equal(status.lastRefresh, written.last_refresh);
      const token = await c.token();
      assert.equal(token.type, 'chatgpt');
      assert.equal((token as { accessToken: string }).accessToken, written.tokens!.access_token);
      const printed = await cli(b, ['token']);
      assert.equal(printed.stdout.trim(), written.tokens!.access_token);

      await sleep(3000); // a refresh codexd wrongly scheduled at start would show up here
      const all = refreshes().slice(baseline);
      t.diagnostic(`refresh requests at the issuer after codexd started: ${describeRefreshes(all.slice(1))}`);
      assert.equal(all.length, 1, `codexd made no refresh request: ${describeRefreshes(all)}`);
      assert.equal(readAuth(b), afterCodex, 'codexd left Codex\'s file untouched');
    } finally {
      await c.close();
      await daemon.stop();
    }
  } finally {
    const sampled = sampler.stop();
    t.diagnostic(`auth.json sampled ${sampled.samples} times while Codex and then codexd ran: ${sampled.failures.length} failed to parse`);
    assert.deepEqual(sampled.failures, []);
  }
  JSON.parse(readAuth(b));
});
