// auth.json: Codex's format byte for byte, Codex's locks, atomic writes, and nothing lost.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeIssuer, type FakeIssuer } from '../support/fake-issuer.js';
import type { Status } from '../shared/protocol.js';
import { authPath, cli, client, fileSandbox, hasAuth, holdsOpen, readAuth, startDaemon, waitFor, watch, type Sandbox } from './helpers.js';
import { codexAuthJson, holdLock } from './refresh-support.js';
import { ErrorCodes } from '../shared/protocol.js';

const KEY = 'sk-proj-interop-0123456789abcdefghij';
/** auth.json of an API-key login, as Codex CLI writes it. */
const API_KEY_FILE = `{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "${KEY}"\n}`;

function chatgptFixture(issuer: FakeIssuer, accessExpiresInS = 3600): string {
  return codexAuthJson(issuer.mintTokens({ accessExpiresInS }), issuer.account.accountId, '2026-11-20T10:00:00.123456Z');
}

describe('auth.json', () => {
  let issuer: FakeIssuer;
  const box = (): Sandbox => fileSandbox({ CODEXD_ISSUER: issuer.url });
  before(async () => {
    issuer = await startFakeIssuer();
  });
  after(async () => {
    await issuer.close();
  });

  it('an API-key login writes exactly the bytes Codex CLI writes, 0600 in a 0700 CODEX_HOME', async () => {
    const b = box();
    const daemon = await startDaemon(b);
    const result = await cli(b, ['login', '--with-api-key'], { input: `${KEY}\n` });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(readAuth(b), API_KEY_FILE);
    assert.equal(statSync(authPath(b)).mode & 0o777, 0o600);
    assert.equal(statSync(b.codexHome).mode & 0o777, 0o700);
    assert.deepEqual(readdirSync(b.codexHome).filter((name) => name.startsWith('.auth-')), [], 'no temp file is left behind');
    await daemon.stop();
  });

  it('a ChatGPT login on disk is reported with email, plan, account id and expiry', async () => {
    const b = box();
    const daemon = await startDaemon(b);
    writeFileSync(authPath(b), chatgptFixture(issuer, 3600), { mode: 0o600 });
    const c = await client(b);
    const status = await waitFor(async () => {
      const s = await c.read();
      return s.account ? s : null;
    }, 'the fixture to be read');
    assert.deepEqual(status.account, { type: 'chatgpt', email: 'dev@example.com', planType: 'pro', accountId: 'acct_fake_123' });
    assert.equal(status.state, 'ok');
    assert.equal(status.lastRefresh, '2026-11-20T10:00:00.123456Z');
    const expiresIn = Date.parse(status.accessTokenExpiresAt!) - Date.now();
    assert.ok(expiresIn > 3500_000 && expiresIn <= 3600_000, `expiry about an hour away, got ${expiresIn} ms`);

    const shown = await cli(b, ['status']);
    assert.equal(shown.code, 0);
    assert.match(shown.stdout, /Logged in using ChatGPT as dev@example\.com \(pro\)/);
    assert.match(shown.stdout, /acct_fake_123/);
    await c.close();
    await daemon.stop();
  });

  it('a corrupt auth.json is reported with a reason, never overwritten silently, and kept aside when a login replaces it', async () => {
    const b = box();
    const daemon = await startDaemon(b);
    const corrupt = '{"auth_mode": "chatgpt", "tokens": {"id_token": "not-a-jwt"';
    writeFileSync(authPath(b), corrupt, { mode: 0o600 });
    const c = await client(b);
    const status = await waitFor(async () => {
      const s = await c.read();
      return s.reauthReason ? s : null;
    }, 'the corrupt file to be noticed');
    assert.equal(status.state, 'loggedOut');
    assert.match(status.reauthReason!, /not valid JSON/);
    const shown = await cli(b, ['status']);
    assert.equal(shown.code, 1);
    assert.match(shown.stdout, /auth\.json cannot be used/);
    assert.equal(readAuth(b), corrupt, 'reading never rewrites the file');

    const login = await cli(b, ['login', '--with-api-key'], { input: KEY });
    assert.equal(login.code, 0, login.stderr);
    const aside = readdirSync(b.codexHome).filter((name) => name.startsWith('auth.json.corrupt-'));
    assert.equal(aside.length, 1, 'the corrupt file is kept aside');
    assert.equal(readFileSync(join(b.codexHome, aside[0]!), 'utf8'), corrupt);
    await c.close();
    await daemon.stop();
  });

  it('an id_token that is not a JWT makes the file unusable, as in Codex', async () => {
    const b = box();
    const fixture = JSON.parse(chatgptFixture(issuer)) as { tokens: { id_token: string } };
    fixture.tokens.id_token = 'abc.def';
    const daemon = await startDaemon(b);
    writeFileSync(authPath(b), JSON.stringify(fixture, null, 2));
    const c = await client(b);
    const status = await waitFor(async () => {
      const s = await c.read();
      return s.reauthReason ? s : null;
    }, 'the broken id_token to be noticed');
    assert.match(status.reauthReason!, /id_token is not a valid JWT/);
    await assert.rejects(c.token(), (error: { code: number }) => error.code === ErrorCodes.notLoggedIn);
    await c.close();
    await daemon.stop();
  });

  it('a write waits while another process holds flock on auth.lock, and completes after release', async () => {
    const b = box();
    const daemon = await startDaemon(b);
    const lockFile = join(b.codexHome, 'auth.lock');
    const lock = await holdLock(lockFile);
    const login = cli(b, ['login', '--with-api-key'], { input: KEY });
    // codexd opens auth.lock for its write and keeps it open while it waits for the lock.
    await waitFor(() => holdsOpen(daemon.pid, realpathSync(lockFile)) || null, 'codexd to wait for auth.lock');
    assert.equal(hasAuth(b), false, 'nothing is written while the lock is held');
    await lock.release();
    const result = await login;
    assert.equal(result.code, 0, result.stderr);
    assert.match(readAuth(b), /"auth_mode": "apikey"/);
    await daemon.stop();
  });

  it('outside edits, including an atomic rename, reach two connected clients within 2 s', async () => {
    const b = box();
    const daemon = await startDaemon(b);
    const first = await client(b);
    const second = await client(b);
    const seen: Array<Array<{ account: unknown }>> = [[], []];
    first.onAccountUpdated((s) => seen[0]!.push(s));
    second.onAccountUpdated((s) => seen[1]!.push(s));

    writeFileSync(authPath(b), API_KEY_FILE);
    await waitFor(() => seen.every((list) => list.some((s) => JSON.stringify(s.account) === '{"type":"apiKey"}')), 'an in-place edit to be announced', 10_000);

    const temp = join(b.codexHome, '.auth-TEST01');
    writeFileSync(temp, chatgptFixture(issuer), { mode: 0o600 });
    renameSync(temp, authPath(b));
    await waitFor(() => seen.every((list) => list.some((s) => JSON.stringify(s.account).includes('dev@example.com'))), 'an atomic rename to be announced', 10_000);
    await first.close();
    await second.close();
    await daemon.stop();
  });

  it('a deleted auth.json, a deleted CODEX_HOME and one created again are announced, and edits inside the new one too', async () => {
    const b = box();
    const daemon = await startDaemon(b);
    const { client: c, updates } = watch(await client(b));
    // Each step within 10 s: far less than the 30 s safety-net poll, so the watch must see it.
    const announced = async (what: string, predicate: (status: Status) => boolean): Promise<void> => {
      await waitFor(() => updates.values.some(predicate), what, 10_000);
      updates.values.length = 0;
    };
    const apiKey = (status: Status): boolean => status.account?.type === 'apiKey';

    writeFileSync(authPath(b), API_KEY_FILE, { mode: 0o600 });
    await announced('a new auth.json', apiKey);
    unlinkSync(authPath(b));
    await announced('a deleted auth.json', (s) => s.account === null);
    writeFileSync(authPath(b), API_KEY_FILE, { mode: 0o600 });
    await announced('a new auth.json', apiKey);
    rmSync(b.codexHome, { recursive: true });
    await announced('a deleted CODEX_HOME', (s) => s.account === null);
    mkdirSync(b.codexHome, { mode: 0o700 });
    writeFileSync(authPath(b), chatgptFixture(issuer), { mode: 0o600 });
    await announced('a login in a CODEX_HOME created again', (s) => s.account?.type === 'chatgpt');
    writeFileSync(authPath(b), API_KEY_FILE);
    await announced('an in-place edit in the new CODEX_HOME', apiKey);
    await c.close();
    await daemon.stop();
  });

  it('SIGTERM during a write lets the write finish: auth.json is whole afterwards', async () => {
    const b = box();
    const daemon = await startDaemon(b);
    const c = await client(b);
    const writes = Array.from({ length: 20 }, (_, i) => c.loginStart({ type: 'apiKey', apiKey: `${KEY}-${i}` }).catch(() => undefined));
    await writes[0]; // the first write has landed and the others queue behind it: SIGTERM meets one of them
    const code = await daemon.stop('SIGTERM');
    await Promise.all(writes);
    assert.equal(code, 0, 'graceful exit');
    const parsed = JSON.parse(readAuth(b)) as { auth_mode: string; OPENAI_API_KEY: string };
    assert.equal(parsed.auth_mode, 'apikey');
    assert.match(parsed.OPENAI_API_KEY, /^sk-proj-interop-0123456789abcdefghij-\d+$/);
    await c.close();
  });
});
