// One refresh at a time, for everyone: single flight inside codexd, Codex's auth.lock across
// processes, adopting what another writer put on disk, and writes that survive SIGKILL.
import assert from 'node:assert/strict';
import { readFileSync, watch } from 'node:fs';
import { describe, it, type TestContext } from 'node:test';
import type { CodexdClient, Status, TokenResult } from '../client/index.js';
import type { TokenSet } from '../support/fake-issuer.js';
import { rpcError, sleep, waitFor, type Recorder } from './helpers.js';
import { codexAuthJson, expMs, fixture, holdLock, leftoverTempFiles, OTHER_ACCOUNT, probeLock, readJson, refreshRequests, rotateOutside, scene, writeAtomically, writeUnderLock, type Fixture, type Scene } from './refresh-support.js';
import { ErrorCodes } from '../shared/protocol.js';

/** A scene whose codexd has a forced refresh on its way to an issuer that holds it back for 1 s. */
async function refreshInFlight(t: TestContext): Promise<{ s: Scene; old: Fixture; c: CodexdClient; updates: Recorder<Status>; forced: Promise<TokenResult> }> {
  const s = await scene(t, {}, { proxy: true });
  const old = s.writeFixture({ accessExpiresInS: 3600 });
  s.proxy!.delayMs = (path) => (path === '/oauth/token' ? 1000 : 0);
  await s.start();
  const { client: c, updates } = await s.watcher();
  const forced = c.token({ forceRefresh: true });
  await waitFor(() => s.proxy!.pending === 1, "codexd's refresh request to be on its way");
  return { s, old, c, updates, forced };
}

describe('single flight', () => {
  it('200 concurrent token calls on an expired token make exactly one refresh, and all 200 get the new token', async (t) => {
    const s = await scene(t, {}, { proxy: true });
    s.proxy!.delayMs = (path) => (path === '/oauth/token' ? 1500 : 0);
    await s.start();
    const clients = await Promise.all(Array.from({ length: 10 }, () => s.client()));
    const old = s.writeFixture({ accessExpiresInS: -5 });
    // The refresh starts on its own (the token is overdue) and is held at the proxy: every call
    // below arrives while it is in flight.
    await waitFor(async () => (await clients[0]!.read()).state === 'refreshing', `the refresh to start; log:\n${s.log()}`);
    const calls = clients.flatMap((c) => Array.from({ length: 20 }, () => c.token()));
    const results = await Promise.all(calls);
    assert.equal(results.length, 200);
    const tokens = new Set(results.map((r) => (r.type === 'chatgpt' ? r.accessToken : 'apiKey')));
    assert.equal(tokens.size, 1, 'every caller got the same token');
    const [token] = tokens;
    assert.notEqual(token, old.tokens.access_token, 'and it is the new one');
    assert.equal(readJson(s.authFile).tokens.access_token, token);
    await sleep(300);
    assert.equal(refreshRequests(s.issuer).length, 1, 'exactly one refresh at the issuer');
    assert.equal(s.proxy!.received.length, 1);
  });
});

describe('another writer', () => {
  it('when another process rotates the tokens while codexd waits for auth.lock to refresh, codexd adopts them and sends no request', async (t) => {
    const s = await scene(t, { CODEXD_TICK_S: '3600' });
    await s.start();
    const { client: c, updates } = await s.watcher();
    const old = s.writeFixture({ accessExpiresInS: 600 + 2 }); // due in about 2 s
    await updates.next((u) => u.account !== null);
    // A Codex process holds auth.lock (it is about to persist its own refresh) when codexd's timer fires.
    const lock = await holdLock(s.lockFile);
    await updates.next((u) => u.state === 'refreshing', 8000);
    await sleep(200); // codexd is now polling for the lock
    const rotated = await rotateOutside(s.issuer, old.tokens.refresh_token);
    const written = fixture(rotated, s.issuer.account, '2026-01-01T00:00:00.000000Z');
    writeAtomically(s.box.codexHome, written.raw);
    await lock.release();

    await updates.next((u) => u.state === 'ok' && u.accessTokenExpiresAt === new Date(expMs(rotated.access_token)).toISOString());
    const token = await c.token();
    assert.equal(token.type === 'chatgpt' && token.accessToken, rotated.access_token);
    assert.equal(refreshRequests(s.issuer).length, 1, "only the other writer's refresh reached the issuer");
    assert.equal(readFileSync(s.authFile, 'utf8'), written.raw, "the other writer's file is left as it was");
  });

  it('a forced refresh re-reads auth.json under auth.lock and adopts a rotation that landed meanwhile', async (t) => {
    const s = await scene(t);
    const old = s.writeFixture({ accessExpiresInS: 3600 });
    await s.start();
    const c = await s.client();
    const lock = await holdLock(s.lockFile);
    const forced = c.token({ forceRefresh: true });
    await waitFor(async () => (await c.read()).state === 'refreshing', 'the forced refresh to wait for the lock');
    const rotated = await rotateOutside(s.issuer, old.tokens.refresh_token);
    const written = fixture(rotated, s.issuer.account);
    // Written and unlocked at once: codexd sees the new file first by re-reading under the lock.
    writeAtomically(s.box.codexHome, written.raw);
    await lock.release();
    const token = await forced;
    assert.equal(token.type === 'chatgpt' && token.accessToken, rotated.access_token);
    assert.equal(refreshRequests(s.issuer).length, 1, 'codexd sent no request of its own');
    assert.equal(readFileSync(s.authFile, 'utf8'), written.raw);
  });

  it('refresh_token_reused because another process rotated meanwhile is recovered from disk, not reauthRequired', async (t) => {
    const { s, old, c, updates, forced } = await refreshInFlight(t);
    // Codex CLI refreshes with the same refresh token (it takes no lock for the request) and then
    // persists under auth.lock, which codexd holds until its own request is answered.
    const rotated = await rotateOutside(s.issuer, old.tokens.refresh_token);
    const written = fixture(rotated, s.issuer.account);
    const persisted = writeUnderLock(s.box.codexHome, written.raw);

    const token = await forced;
    await persisted;
    assert.equal(token.type === 'chatgpt' && token.accessToken, rotated.access_token);
    const reply = s.proxy!.replies.find((r) => r.path === '/oauth/token');
    assert.equal(reply?.status, 401);
    assert.match(reply!.body, /refresh_token_reused/, 'codexd really got refresh_token_reused');
    const status = await c.read();
    assert.equal(status.state, 'ok');
    assert.equal(status.reauthReason, null);
    assert.ok(!updates.values.some((u: Status) => u.state === 'reauthRequired'), 'reauthRequired was never announced');
    assert.equal(readFileSync(s.authFile, 'utf8'), written.raw);
    assert.equal(refreshRequests(s.issuer).length, 2, "codexd's and the other process's, and no more");
  });

  it('a new login as another account that lands while a refresh is in flight is kept, and the old refresh is dropped', async (t) => {
    const { s, old, c, updates, forced } = await refreshInFlight(t);
    // An older Codex that takes no lock: the file changes under codexd's feet.
    const other = s.writeFixture({ accessExpiresInS: 3600, account: OTHER_ACCOUNT });
    const token = await forced;
    assert.equal(token.type === 'chatgpt' && token.accountId, OTHER_ACCOUNT.accountId, 'the caller gets the new account');
    await sleep(300);
    assert.equal(readFileSync(s.authFile, 'utf8'), other.raw, "the new login is not overwritten by the old account's refresh");
    const last = updates.values.at(-1);
    assert.equal(last?.account?.type === 'chatgpt' && last.account.accountId, OTHER_ACCOUNT.accountId, 'the new account is announced last');
    assert.equal((await c.read()).state, 'ok');
    const reply = s.proxy!.replies.find((r) => r.path === '/oauth/token');
    assert.equal(reply?.status, 200, "the old account's refresh did succeed at the issuer, and was dropped");
    assert.ok(!readFileSync(s.authFile, 'utf8').includes(old.tokens.refresh_token));
  });
});

describe('auth.lock and crashes', () => {
  it('auth.lock is held for the whole refresh: a flock -n probe fails while the issuer is slow, and succeeds afterwards', async (t) => {
    const s = await scene(t, {}, { proxy: true });
    s.writeFixture({ accessExpiresInS: 3600 });
    s.proxy!.delayMs = (path) => (path === '/oauth/token' ? 2000 : 0);
    await s.start();
    const c = await s.client();
    assert.equal(await probeLock(s.lockFile), 0, 'free before the refresh');
    const forced = c.token({ forceRefresh: true });
    await waitFor(() => s.proxy!.pending === 1, 'the refresh request to be held at the issuer');
    assert.equal(await probeLock(s.lockFile), 1, 'held while the request is out');
    await sleep(1000);
    assert.equal(await probeLock(s.lockFile), 1, 'still held a second later');
    await forced;
    assert.equal(await probeLock(s.lockFile), 0, 'released once the result is on disk');
    assert.equal(refreshRequests(s.issuer).length, 1);
  });

  it('an issuer that never answers holds auth.lock no longer than the request timeout, and the valid token is still served', async (t) => {
    // A backoff of up to a day (the longest allowed): the retry cannot come while this test looks at the lock.
    const s = await scene(t, { CODEXD_HTTP_TIMEOUT_S: '1', CODEXD_REFRESH_BACKOFF_BASE_MS: '86400000', CODEXD_REFRESH_BACKOFF_MAX_MS: '86400000' });
    const old = s.writeFixture({ accessExpiresInS: 3600 });
    s.issuer.script('/oauth/token', { hang: true });
    await s.start();
    const c = await s.client();
    const startedAt = Date.now();
    const forced = c.token({ forceRefresh: true });
    await waitFor(() => refreshRequests(s.issuer).length === 1, 'the refresh request to reach the issuer');
    assert.equal(await probeLock(s.lockFile), 1, 'held while the request is out');
    const error = await rpcError(forced);
    const tookMs = Date.now() - startedAt;
    // The issuer never answers: any answer at all is the timeout's doing (the default would be 30 s).
    assert.ok(tookMs >= 900 && tookMs < 20_000, `the request was given up after ${tookMs} ms (timeout 1 s)`);
    assert.equal(error.code, ErrorCodes.issuerUnavailable, 'the forced refresh failed, and says so');
    assert.match(error.message, /no answer from .* within 1 s/);
    const token = await c.token();
    assert.equal(token.type === 'chatgpt' && token.accessToken, old.tokens.access_token, 'the still-valid token is served');
    assert.equal(await probeLock(s.lockFile), 0, 'released after the timeout');
    assert.equal((await c.read()).reauthReason, null);
    assert.equal(readFileSync(s.authFile, 'utf8'), old.raw);
  });

  it('SIGKILL at random moments of the refresh, 50 times: auth.json always parses and holds the old or the new tokens', async (t) => {
    const s = await scene(t, {}, { proxy: true });
    const proxy = s.proxy!;
    const outcomes = { old: 0, new: 0 };
    let leftovers = 0;
    const started = Date.now();
    s.writeFixture({ accessExpiresInS: 3600 }); // creates CODEX_HOME, so it can be watched
    // Half the rounds kill as soon as the write shows in the folder (codexd's temp file
    // .auth-XXXXXX, or auth.json itself for a writer that would write in place), that is in the
    // middle of the persist step; the other half at a random moment after the issuer answered.
    let onWrite: (() => void) | null = null;
    const folder = watch(s.box.codexHome, (_event, name) => {
      if (name?.startsWith('.auth-') || name === 'auth.json') onWrite?.();
    });
    t.after(() => folder.close());
    for (let round = 0; round < 50; round++) {
      // A due token, so codexd refreshes as soon as it starts; fresh tokens every round (a kill
      // after the issuer answered leaves a spent refresh token on disk).
      const before: Fixture = s.writeFixture({ accessExpiresInS: 30 });
      const daemon = await s.start({ waitReady: false });
      const kill = (): void => {
        onWrite = null;
        daemon.proc.kill('SIGKILL');
      };
      let when = '';
      proxy.onReply = (reply) => {
        if (reply.path !== '/oauth/token') return;
        proxy.onReply = null;
        if (round % 2 === 0) {
          const afterMs = Math.random() * 60;
          when = `${afterMs.toFixed(1)} ms after the answer`;
          setTimeout(kill, afterMs);
        } else {
          const afterMs = Math.random() < 0.5 ? 0 : Math.random() * 3;
          when = `${afterMs.toFixed(1)} ms after the write began`;
          onWrite = () => (afterMs === 0 ? kill() : setTimeout(kill, afterMs));
          setTimeout(kill, 300); // in case the watch misses it
        }
      };
      const exited = await Promise.race([daemon.exited, sleep(15_000).then(() => null)]);
      assert.ok(exited, `round ${round}: the daemon never refreshed; log:\n${s.log()}`);
      assert.equal(exited.signal, 'SIGKILL', `round ${round}: killed, not exited (${JSON.stringify(exited)})`);
      const issued = JSON.parse(proxy.replies.at(-1)!.body) as TokenSet;
      const after = readFileSync(s.authFile, 'utf8');
      let parsed: ReturnType<typeof readJson>;
      try {
        parsed = JSON.parse(after);
      } catch {
        assert.fail(`round ${round} (killed ${when}): auth.json does not parse: ${after}`);
      }
      if (after === before.raw) {
        outcomes.old += 1;
      } else {
        assert.deepEqual(parsed.tokens, { ...issued, account_id: before.accountId }, `round ${round} (killed ${when}): neither the old nor the issued tokens`);
        assert.equal(after, codexAuthJson(issued, before.accountId, parsed.last_refresh), `round ${round}: not in Codex's format`);
        outcomes.new += 1;
      }
      if (leftoverTempFiles(s.box.codexHome).length > 0) leftovers += 1;
    }
    t.diagnostic(`old ${outcomes.old}, new ${outcomes.new}, rounds that left a temp file: ${leftovers}, ${Date.now() - started} ms`);
    assert.ok(outcomes.old > 0 && outcomes.new > 0, `kills landed on both sides of the rename (old ${outcomes.old}, new ${outcomes.new})`);
    // The next codexd clears any temp file an interrupted write left behind.
    s.writeFixture({ accessExpiresInS: 3600 });
    const daemon = await s.start();
    assert.deepEqual(leftoverTempFiles(s.box.codexHome), []);
    await daemon.stop();
  });
});
