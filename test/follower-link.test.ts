// A follower's link to an upstream that misbehaves (issue 19 items 4, 9 and 12): one that falls
// silent (a laptop asleep at the far end of ssh -R), never answers `initialize`, closes every
// connection right after accepting it, or leads back to the follower itself. The upstream here is
// a hand-written one in the test process, speaking the protocol frame by frame; the follower is
// the built codexd with short time limits (CODEXD_UPSTREAM_TIMEOUT_MS, CODEXD_UPSTREAM_RETRY_MAX_MS).
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Status } from '../client/index.js';
import { frame, FrameParser, MAX_MESSAGE_BYTES } from '../shared/framing.js';
import { PROTOCOL_VERSION, type SessionResult } from '../shared/protocol.js';
import { startFakeIssuer, type FakeIssuer } from '../support/fake-issuer.js';
import { cli, client, fileSandbox, readLog, restrictedSocket, startDaemon, stopDaemons, waitFor, type Daemon, type Sandbox } from './helpers.js';

let issuer: FakeIssuer;
const daemons: Daemon[] = [];

before(async () => {
  issuer = await startFakeIssuer();
});

after(async () => {
  await stopDaemons(daemons);
  await issuer.close();
});

type Behaviour = 'answer' | 'silent' | 'close';

/** An upstream codexd written by hand: it answers, falls silent, or closes each connection at once, as told. */
class HandmadeUpstream {
  behaviour: Behaviour = 'answer';
  connections = 0;
  session: SessionResult;
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly path: string,
    accessExpiresInS: number,
  ) {
    const tokens = issuer.mintTokens({ accessExpiresInS });
    this.session = { authMode: 'chatgpt', accessToken: tokens.access_token, idToken: tokens.id_token, accountId: issuer.account.accountId, expiresAt: null, lastRefresh: new Date().toISOString() };
    this.server = createServer((socket) => this.accept(socket));
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.path, resolve));
  }

  close(): void {
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
  }

  private accept(socket: Socket): void {
    this.connections++;
    socket.on('error', () => undefined);
    if (this.behaviour === 'close') {
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const parser = new FrameParser(MAX_MESSAGE_BYTES);
    socket.on('data', (chunk: Buffer) =>
      parser.push(chunk, (body) => {
        if (this.behaviour !== 'answer') return;
        const { id, method } = JSON.parse(body.toString('utf8')) as { id: number; method: string };
        const result =
          method === 'initialize'
            ? { serverInfo: { name: 'codexd', version: 'handmade' }, protocolVersion: PROTOCOL_VERSION, startedBy: 'user', instanceIds: ['handmade'] }
            : method === 'account/session'
              ? this.session
              : method === 'account/token'
                ? { type: 'chatgpt', accessToken: this.session.authMode === 'chatgpt' ? this.session.accessToken : '', accountId: null, expiresAt: null }
                : {};
        socket.write(frame({ jsonrpc: '2.0', id, result }));
      }),
    );
  }
}

async function handmadeUpstream(accessExpiresInS = 3600): Promise<HandmadeUpstream> {
  const dir = join(fileSandbox().dir, 'up');
  mkdirSync(dir, { mode: 0o700 });
  const upstream = new HandmadeUpstream(join(dir, 'upstream.sock'), accessExpiresInS);
  await upstream.listen();
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
    const upstream = await handmadeUpstream(4);
    const box = await follower(upstream.path);
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
    upstream.session = (() => {
      const tokens = issuer.mintTokens({ accessExpiresInS: 3600 });
      return { ...upstream.session, accessToken: tokens.access_token, idToken: tokens.id_token } as SessionResult;
    })();
    await waitFor(async () => (await status(box)).state === 'ok', 'the follower to reconnect and mirror the new token', 10_000);
  });

  it('an upstream that closes every connection right after accepting it is retried with the backoff, and followed once it answers', async () => {
    const upstream = await handmadeUpstream();
    upstream.behaviour = 'close';
    const box = await follower(upstream.path);
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
