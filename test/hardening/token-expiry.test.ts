// Absurd `exp` claims: an access token whose `exp` is beyond what a date can hold, negative,
// Infinity (JSON `1e400`, the NaN of JSON) or a string, in a file present at start (also with a
// `last_refresh` in the year 275760), in a file that arrives while codexd runs, and in an issuer's
// refresh reply. codexd treats the expiry as unknown, serves the token, says so in status, and
// schedules refreshes by Codex's rule (8 days after last_refresh) instead.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TokenSet } from '../../support/fake-issuer.js';
import { codexAuthJson, codexTimestamp, refreshRequests, writeAtomically } from '../refresh-support.js';
import { suite } from './support.js';

const s = suite('absurd token expiry');

/** Raw JSON for the `exp` claim. */
const ABSURD_EXPS = ['8640000000001', '-1', '1e400', '"2030-01-01T00:00:00Z"'];

/** `jwt` with its payload's `exp` replaced by `rawExp` (JSON text, so `1e400` stays as written). */
function withExp(jwt: string, rawExp: string): string {
  const [header, payload, signature] = jwt.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  const json = JSON.stringify({ ...claims, exp: 0 }).replace('"exp":0', `"exp":${rawExp}`);
  const forged = `${header}.${Buffer.from(json).toString('base64url')}.${signature}`;
  s.secret(`access token with exp ${rawExp}`, forged);
  return forged;
}

function absurdTokens(tokens: TokenSet, rawExp: string): TokenSet {
  return { ...tokens, access_token: withExp(tokens.access_token, rawExp) };
}

const DAY_MS = 24 * 3600 * 1000;

describe('absurd token expiry', () => {
  for (const rawExp of ABSURD_EXPS) {
    it(`exp ${rawExp} in auth.json at start: codexd starts, serves the token, and says the expiry is unknown`, async () => {
      const issuer = await s.issuer();
      const box = s.box({ CODEXD_ISSUER: issuer.url });
      const tokens = absurdTokens(issuer.mintTokens(), rawExp);
      writeAtomically(box.codexHome, codexAuthJson(tokens, issuer.account.accountId, codexTimestamp(Date.now())));
      await s.daemon(box);
      const c = await s.client(box);
      const status = await c.read();
      assert.equal(status.state, 'ok');
      assert.equal(status.accessTokenExpiresAt, null);
      assert.match(status.accessTokenExpiryNote ?? '', /8 days after the last refresh/);
      const token = await c.token();
      assert.ok(token.type === 'chatgpt' && token.accessToken === tokens.access_token && token.expiresAt === null);
      assert.equal(refreshRequests(issuer).length, 0, 'refreshed only last_refresh + 8 days');
    });
  }

  it('an absurd exp with an absurd last_refresh (year 275760): status answers, and the login is refreshed as one whose age is unknown', async () => {
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url });
    const tokens = absurdTokens(issuer.mintTokens(), '8640000000001');
    writeAtomically(box.codexHome, codexAuthJson(tokens, issuer.account.accountId, '+275760-09-13T00:00:00.000Z'));
    await s.daemon(box);
    const { client: c, updates } = await s.watcher(box);
    await updates.next((u) => u.state === 'ok' && u.lastRefresh !== null && u.lastRefresh.startsWith('20'), 10_000);
    assert.equal(refreshRequests(issuer).length, 1, 'refreshed once, as a login of unknown age');
    assert.equal((await c.read()).state, 'ok');
  });

  it('an absurd exp in a file that arrives while codexd runs: clients keep getting answers and notifications', async () => {
    s.ran(ABSURD_EXPS.length);
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url });
    await s.daemon(box);
    const { client: c, updates } = await s.watcher(box);
    for (const rawExp of ABSURD_EXPS) {
      const tokens = absurdTokens(issuer.mintTokens(), rawExp);
      writeAtomically(box.codexHome, codexAuthJson(tokens, issuer.account.accountId, codexTimestamp(Date.now())));
      const update = await updates.next((u) => u.state === 'ok' && u.accessTokenExpiryNote !== null);
      assert.equal(update.accessTokenExpiresAt, null);
      const token = await c.token();
      assert.ok(token.type === 'chatgpt' && token.accessToken === tokens.access_token, `the token of the file with exp ${rawExp} is served`);
      updates.values.length = 0;
    }
  });

  it('an old login with an absurd exp is refreshed by Codex rule, and an issuer reply with an absurd exp is served and not refreshed in a loop', async () => {
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_TICK_S: '1' });
    const stale = absurdTokens(issuer.mintTokens(), '-1');
    writeAtomically(box.codexHome, codexAuthJson(stale, issuer.account.accountId, codexTimestamp(Date.now() - 9 * DAY_MS)));
    const reply = absurdTokens(issuer.mintTokens(), '8640000000001');
    issuer.script('/oauth/token', { body: { ...reply, token_type: 'Bearer' } });
    await s.daemon(box);
    const { client: c, updates } = await s.watcher(box);
    await updates.next((u) => u.state === 'ok' && u.lastRefresh !== null && Date.parse(u.lastRefresh) > Date.now() - DAY_MS, 10_000);
    assert.equal(refreshRequests(issuer).length, 1, 'the 9-day-old login was refreshed once');
    for (let i = 0; i < 3; i++) {
      const token = await c.token();
      assert.ok(token.type === 'chatgpt' && token.accessToken === reply.access_token && token.expiresAt === null, "the issuer's token is served");
    }
    const status = await c.read();
    assert.equal(status.state, 'ok');
    assert.notEqual(status.accessTokenExpiryNote, null);
    assert.equal(refreshRequests(issuer).length, 1, 'the new token is not refreshed again at once');
  });
});
