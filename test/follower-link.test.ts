// A follower's link to an upstream that misbehaves (issue 19 items 4, 9 and 12): one that falls
// silent (a laptop asleep at the far end of ssh -R), never answers `initialize`, closes every
// connection right after accepting it, or leads back to the follower itself. The upstream here is
// a hand-made one in the test process (upstream-support.ts); the follower is
// the built codexd with short time limits (CODEXD_UPSTREAM_TIMEOUT_MS, CODEXD_UPSTREAM_RETRY_MAX_MS).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Status } from '../client/index.js';
import { startFakeIssuer, type FakeIssuer } from '../support/fake-issuer.js';
import { cli, client, fileSandbox, readLog, restrictedSocket, startDaemon, stopDaemons, waitFor, type Daemon, type Sandbox } from './helpers.js';
import { sessionOf, startFakeUpstream, type FakeUpstream } from './upstream-support.js';

let issuer: FakeIssuer;
const daemons: Daemon[] = [];

before(async () => {
  issuer = await startFakeIssuer();
});

after(async () => {
  await stopDaemons(daemons);
  await issuer.close();
});

/** A hand-made upstream (upstream-support.ts) holding a login whose access token expires in `accessExpiresInS`. */
async function loggedInUpstream(accessExpiresInS = 3600): Promise<FakeUpstream & { session: Record<string, unknown> }> {
  const upstream = Object.assign(await startFakeUpstream(fileSandbox().dir), { session: sessionOf(issuer, accessExpiresInS) });
  upstream.answer = (method) => (method === 'account/session' ? { result: upstream.session } : method === 'account/token' ? { result: { type: 'chatgpt', accessToken: upstream.session['accessToken'], accountId: null, expiresAt: null } } : undefined);
  after(() => upstream.close());
  return upstream;
}

const FAST = { CODEXD_UPSTREAM_TIMEOUT_MS: '500', CODEXD_UPSTREAM_RETRY_MAX_MS: '1000' };

async function follower(upstream: string, env: NodeJS.ProcessEnv = FAST): Promise<Sandbox> {
  const box = fileSandbox({ CODEXD_UPSTREAM: upstream, ...env });
  daemons.push(await startDaemon(box));
  return box;
}

async function status(box: Sandbox): Promise<Status> {
  const c = await client(box);
  try {
    return await c.read();
  } finally {
    await c.close();
  }
}

describe('a follower whose upstream misbehaves', () => {
  it('an upstream that falls silent is taken for down and retried; once the token expires, token, --force-refresh and account/read {refreshToken} answer at once', async () => {
    const upstream = await loggedInUpstream(4);
    const box = await follower(upstream.socket);
    await waitFor(async () => (await status(box)).state === 'ok', 'the follower to mirror the token');
    upstream.behaviour = 'silent';
    const seen = upstream.connections;
    // Its heartbeat goes unanswered: the link is down, and every new link's initialize goes unanswered too.
    await waitFor(async () => (await status(box)).upstream?.state === 'disconnected', 'the follower to take the silent link for down');
    await waitFor(() => upstream.connections >= seen + 2, 'the follower to keep reconnecting although initialize is never answered');
    const expired = await waitFor(async () => {
      const s = await status(box);
      return s.state === 'reauthRequired' ? s : null;
    }, 'the mirrored token to expire', 15_000);
    assert.match(expired.reauthReason ?? '', /is down since .*, and the access token expired at/);
    for (const args of [['token'], ['token', '--force-refresh']]) {
      const result = await cli(box, args, { timeoutMs: 5000 });
      assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, /^codex-auth: (the link to the upstream codexd .* is down since .*|Could not refresh the access token: .*did not answer.*)\n$/);
    }
    const c = await client(box);
    try {
      const read = await c.read({ refreshToken: true });
      assert.equal(read.state, 'reauthRequired');
    } finally {
      await c.close();
    }
    // The upstream wakes up: the follower is back within the retry ceiling.
    upstream.behaviour = 'answer';
    upstream.session = sessionOf(issuer, 3600);
    await waitFor(async () => (await status(box)).state === 'ok', 'the follower to reconnect and mirror the new token', 10_000);
  });

  it('an upstream that closes every connection right after accepting it is retried with the backoff, and followed once it answers', async () => {
    const upstream = await loggedInUpstream();
    upstream.behaviour = 'close';
    const box = await follower(upstream.socket);
    await waitFor(() => upstream.connections >= 4, 'four attempts (0.5 s, 1 s, 1 s apart)', 10_000);
    assert.equal((await status(box)).upstream?.state, 'disconnected');
    upstream.behaviour = 'answer';
    await waitFor(async () => (await status(box)).state === 'ok', 'the follower to connect', 10_000);
  });

  it('a follower of its own restricted socket refuses it in one line, without spinning', async () => {
    const box = fileSandbox(FAST);
    box.env['CODEXD_UPSTREAM'] = restrictedSocket(box);
    const d = await startDaemon(box);
    daemons.push(d);
    const s = await waitFor(async () => {
      const current = await status(box);
      return /leads back to this codexd/.test(current.reauthReason ?? '') ? current : null;
    }, 'the follower to find the loop');
    assert.match(s.reauthReason!, /\(it leads back to this codexd \(it is this daemon's own socket\); point --upstream \(CODEXD_UPSTREAM\) at the codexd that holds the login\)/);
    assert.ok(JSON.stringify(s).length < 4096, 'no nested messages');
    await waitFor(() => (readLog(box).match(/connected to the upstream codexd/g) ?? []).length === 0 && readLog(box).includes('leads back'), 'the log line');
    assert.equal((readLog(box).match(/leads back to this codexd/g) ?? []).length, 1, 'said once in the log');
  });

  it('two followers that follow each other: the loop is found and refused, and nothing grows', async () => {
    const a = fileSandbox(FAST);
    const b = fileSandbox(FAST);
    a.env['CODEXD_UPSTREAM'] = restrictedSocket(b);
    b.env['CODEXD_UPSTREAM'] = restrictedSocket(a);
    daemons.push(await startDaemon(a));
    daemons.push(await startDaemon(b));
    const [sa, sb] = await waitFor(async () => {
      const both = [await status(a), await status(b)];
      return both.some((s) => /leads back to this codexd \(it follows this daemon/.test(s.reauthReason ?? '')) ? both : null;
    }, 'one of them to find the loop', 10_000);
    for (const s of [sa!, sb!]) assert.ok(JSON.stringify(s).length < 4096, `no nested messages: ${JSON.stringify(s).length} characters`);
  });
});
