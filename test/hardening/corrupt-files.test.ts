// A corrupt or truncated auth.json, and a ChatGPT file whose id_token is broken. codexd says
// what is wrong with it (status, token error, codex-auth status), never writes over it on its own
// (not at start, not on a schedule, not when asked for a token), and when a login or logout does
// replace it, keeps the exact old bytes aside in auth.json.corrupt-<time>.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../client/index.js';
import type { FakeIssuer } from '../fake-issuer.js';
import { cli } from '../helpers.js';
import { fixture, writeAtomically } from '../refresh-support.js';
import { sleep, suite } from './support.js';

const s = suite('corrupt auth.json');

interface Corrupt {
  name: string;
  contents(issuer: FakeIssuer): string;
  /** What the reason must say. */
  reason: RegExp;
}

const cases: Corrupt[] = [
  { name: 'not JSON at all', contents: () => 'this is not json\n', reason: /not valid JSON/ },
  { name: 'empty (a writer died before writing)', contents: () => '', reason: /not valid JSON/ },
  { name: 'binary garbage', contents: () => '\u0000\u0001\u00ff\ufffd{{{', reason: /not valid JSON/ },
  {
    name: 'a Codex record truncated halfway',
    contents: (issuer) => {
      const raw = fixture(issuer.mintTokens(), issuer.account).raw;
      return raw.slice(0, Math.floor(raw.length / 2));
    },
    reason: /not valid JSON/,
  },
  { name: 'a JSON array', contents: () => '[]', reason: /does not hold a JSON object/ },
  {
    name: 'a ChatGPT record whose id_token is not a JWT',
    contents: (issuer) => {
      const tokens = issuer.mintTokens();
      return fixture({ ...tokens, id_token: 'eyJhbGciOiJub25lIn0.not-base64-json.sig' }, issuer.account).raw;
    },
    reason: /id_token is not a valid JWT/,
  },
  {
    name: 'a ChatGPT record whose id_token is cut short',
    contents: (issuer) => {
      const tokens = issuer.mintTokens();
      return fixture({ ...tokens, id_token: tokens.id_token.split('.').slice(0, 2).join('.') }, issuer.account).raw;
    },
    reason: /id_token is not a valid JWT/,
  },
  {
    name: 'a ChatGPT record without a refresh token',
    contents: (issuer) => {
      const raw = JSON.parse(fixture(issuer.mintTokens(), issuer.account).raw) as { tokens: Record<string, unknown> };
      delete raw.tokens['refresh_token'];
      return JSON.stringify(raw, null, 2);
    },
    reason: /refresh_token is missing/,
  },
];

const API_KEY = 'sk-replaces-corrupt-0123456789abcdef';
s.secret('API key (corrupt tests)', API_KEY);

function asides(codexHome: string): string[] {
  return readdirSync(codexHome).filter((name) => name.startsWith('auth.json.corrupt-'));
}

describe('a corrupt auth.json at start', () => {
  for (const c of cases) {
    it(`${c.name}: reported with the reason, left alone, and kept aside when a login replaces it`, async () => {
      s.count({ cases: 1 });
      const issuer = await s.issuer();
      const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_TICK_S: '1' });
      const corrupt = c.contents(issuer);
      writeAtomically(box.codexHome, corrupt);
      const file = join(box.codexHome, 'auth.json');
      const daemon = await s.daemon(box);
      const { client: cl, updates } = await s.watcher(box);

      const status = await cl.read({ refreshToken: true });
      assert.equal(status.state, 'loggedOut');
      assert.equal(status.account, null);
      assert.match(String(status.reauthReason), /^auth\.json cannot be used: /);
      assert.match(String(status.reauthReason), c.reason);
      const error = await s.rpcError(cl.token({ forceRefresh: true }));
      assert.equal(error.code, ErrorCodes.notLoggedIn);
      assert.match(error.message, c.reason);
      const run = await cli(box, ['status'], { env: { CODEXD_NO_AUTOSTART: '1' } });
      assert.equal(run.code, 1);
      assert.match(run.stdout + run.stderr, c.reason);

      await sleep(1200); // a tick passes
      await daemon.stop();
      await s.daemon(box); // and a restart
      assert.equal(readFileSync(file, 'utf8'), corrupt, 'never overwritten without a login');
      assert.equal(issuer.requests.length, 0, 'nothing was sent to the issuer');
      assert.deepEqual(asides(box.codexHome), []);

      const replacer = await s.client(box);
      await replacer.loginStart({ type: 'apiKey', apiKey: API_KEY });
      const kept = asides(box.codexHome);
      assert.equal(kept.length, 1, `kept aside once: ${kept.join(', ')}`);
      assert.equal(readFileSync(join(box.codexHome, kept[0]!), 'utf8'), corrupt, 'the exact old bytes are kept');
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).OPENAI_API_KEY, API_KEY);
      await updates.next((u) => u.account?.type === 'apiKey'); // the watcher reconnected by itself and hears it
      s.count({ faults: 1 });
    });
  }
});

describe('a corrupt auth.json appearing while the daemon runs', () => {
  it('an outside writer breaks the file: the change is announced with the reason, and no refresh or token call writes over it', async () => {
    s.count({ cases: 1 });
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_TICK_S: '1' });
    writeAtomically(box.codexHome, fixture(issuer.mintTokens({ accessExpiresInS: 3600 }), issuer.account).raw);
    await s.daemon(box);
    const { client: c, updates } = await s.watcher(box);
    assert.equal((await c.read()).state, 'ok');
    const broken = '{"auth_mode": "chatgpt", "OPENAI_API_KEY": null, "tokens": {"id_token": "x.y';
    writeAtomically(box.codexHome, broken);
    const announced = await updates.next((u) => u.reauthReason !== null);
    assert.equal(announced.state, 'loggedOut');
    assert.match(String(announced.reauthReason), /not valid JSON/);
    assert.equal((await s.rpcError(c.token({ forceRefresh: true }))).code, ErrorCodes.notLoggedIn);
    await sleep(1200);
    assert.equal(readFileSync(join(box.codexHome, 'auth.json'), 'utf8'), broken);
    assert.equal(issuer.count('/oauth/token'), 0);
    s.count({ faults: 1 });
  });

  it('a logout removes a corrupt file only after keeping it aside', async () => {
    s.count({ cases: 1 });
    const box = s.box();
    const broken = '{"auth_mode": "apikey", "OPENAI_API_KEY": 42}';
    writeAtomically(box.codexHome, broken);
    await s.daemon(box);
    const c = await s.client(box);
    assert.match(String((await c.read()).reauthReason), /OPENAI_API_KEY is not a string/);
    await c.logout();
    assert.equal(existsSync(join(box.codexHome, 'auth.json')), false);
    const kept = asides(box.codexHome);
    assert.equal(kept.length, 1);
    assert.equal(readFileSync(join(box.codexHome, kept[0]!), 'utf8'), broken);
    s.count({ faults: 1 });
  });
});
