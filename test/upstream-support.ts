// A hostile upstream for follower tests: a small server on a real Unix socket that speaks the
// protocol by hand (LSP framing from shared/framing.ts, no JSON-RPC library), so that it can answer
// what no codexd would: a session with numbers for tokens, megabytes of text, invalid UTF-8.
// It answers `initialize`, then each request with whatever `answer` returns for it; `announce()`
// sends `account/updated`, as a codexd does when its login changes. `followerScenes()` puts a
// follower on one, per test.
import { mkdirSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before } from 'node:test';
import type { CodexdClient, Status } from '../client/index.js';
import { frame, FrameParser, MAX_MESSAGE_BYTES } from '../shared/framing.js';
import { startFakeIssuer, type FakeIssuer } from '../support/fake-issuer.js';
import { client, fileSandbox, recorder, startDaemon, stopDaemons, waitFor, type Daemon, type Recorder, type Sandbox } from './helpers.js';

/** A JSON-RPC answer: a result, an error, or raw body bytes sent as they are (bytes no JSON encoder would write). */
export type UpstreamAnswer = { result: unknown } | { error: { code: number; message: string } } | { rawResult: Buffer };

export interface FakeUpstream {
  socket: string;
  /** Every request received, in order. */
  requests: Array<{ method: string; params: unknown }>;
  /** What the next requests get; `initialize` is answered as a codexd would unless this answers it. */
  answer: (method: string, params: unknown) => UpstreamAnswer | undefined;
  /** Sends `account/updated` to every follower connected now. */
  announce(): void;
  /** How many requests for `method` have arrived. */
  count(method: string): number;
  /** `answer` (the default), `silent` (read everything, answer nothing: a laptop asleep) or `close` (close each connection at accept). */
  behaviour: 'answer' | 'silent' | 'close';
  /** Connections accepted so far. */
  connections: number;
  close(): Promise<void>;
}

/** A session as a codexd sends one, for the tokens the fake issuer mints. */
export function sessionOf(issuer: FakeIssuer, accessExpiresInS = 3600): Record<string, unknown> {
  const tokens = issuer.mintTokens({ accessExpiresInS });
  return {
    authMode: 'chatgpt',
    accessToken: tokens.access_token,
    idToken: tokens.id_token,
    accountId: issuer.account.accountId,
    expiresAt: null,
    lastRefresh: '2026-01-01T00:00:00.000000Z',
  };
}

/** Listens on `<dir>/up/upstream.sock` (a 0700 folder, as a follower's trust checks want). */
export async function startFakeUpstream(dir: string): Promise<FakeUpstream> {
  const folder = join(dir, 'up');
  mkdirSync(folder, { mode: 0o700 });
  const socket = join(folder, 'upstream.sock');
  const peers = new Set<Socket>();
  const upstream: FakeUpstream = {
    socket,
    requests: [],
    answer: () => undefined,
    announce: () => {
      for (const peer of peers) peer.write(frame({ jsonrpc: '2.0', method: 'account/updated', params: {} }));
    },
    count: (method) => upstream.requests.filter((r) => r.method === method).length,
    behaviour: 'answer',
    connections: 0,
    close: () => {
      for (const peer of peers) peer.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
  const reply = (peer: Socket, id: unknown, answer: UpstreamAnswer): void => {
    if ('rawResult' in answer) {
      const body = Buffer.concat([Buffer.from(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":`), answer.rawResult, Buffer.from('}')]);
      peer.write(Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]));
    } else {
      peer.write(frame({ jsonrpc: '2.0', id, ...answer }));
    }
  };
  const server: Server = createServer((peer) => {
    upstream.connections++;
    if (upstream.behaviour === 'close') {
      peer.destroy();
      return;
    }
    peers.add(peer);
    peer.on('close', () => peers.delete(peer));
    peer.on('error', () => undefined);
    const parser = new FrameParser(MAX_MESSAGE_BYTES);
    peer.on('data', (chunk: Buffer) =>
      parser.push(chunk, (body) => {
        const message = JSON.parse(body.toString('utf8')) as { id?: unknown; method?: string; params?: unknown };
        if (message.id === undefined || typeof message.method !== 'string' || upstream.behaviour === 'silent') return;
        upstream.requests.push({ method: message.method, params: message.params });
        const answer = upstream.answer(message.method, message.params);
        if (answer) return reply(peer, message.id, answer);
        if (message.method === 'initialize') return reply(peer, message.id, { result: { serverInfo: { name: 'codexd', version: '0.0.0' }, protocolVersion: 1 } });
        reply(peer, message.id, { error: { code: -32601, message: `no answer scripted for ${message.method}` } });
      }),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socket, () => resolve());
  });
  return upstream;
}

/** A fake upstream with a follower of it, in a sandbox of its own. */
export interface FollowerScene {
  fo: Sandbox;
  up: FakeUpstream;
  /** What `account/session` is answered with now (at first: a good session). */
  answer: UpstreamAnswer;
  /** Sets the answer and announces a change; resolves once the follower has asked for the session. */
  change(answer: UpstreamAnswer): Promise<void>;
  /** Starts a follower of `up` (again, after a stop) and connects a client that records its notifications. */
  follow(): Promise<{ daemon: Daemon; c: CodexdClient; updates: Recorder<Status> }>;
}

/**
 * Per test file: the fake issuer whose tokens the fake upstreams send, and a scene per test;
 * every follower, client and upstream is stopped when the file ends.
 */
export function followerScenes(): { readonly issuer: FakeIssuer; scene(): Promise<FollowerScene> } {
  let issuer: FakeIssuer | null = null;
  const daemons: Daemon[] = [];
  const clients: CodexdClient[] = [];
  const upstreams: FakeUpstream[] = [];
  before(async () => {
    issuer = await startFakeIssuer();
  });
  after(async () => {
    for (const c of clients) await c.close();
    await stopDaemons(daemons);
    for (const up of upstreams) await up.close();
    await issuer?.close();
  });
  const world = {
    get issuer(): FakeIssuer {
      return issuer!;
    },
    scene: async (): Promise<FollowerScene> => {
      const fo = fileSandbox({ CODEXD_ISSUER: world.issuer.url });
      const up = await startFakeUpstream(fo.dir);
      upstreams.push(up);
      const s: FollowerScene = {
        fo,
        up,
        answer: { result: sessionOf(world.issuer) },
        change: async (answer) => {
          s.answer = answer;
          const asked = up.count('account/session');
          up.announce();
          await waitFor(() => up.count('account/session') > asked, 'the follower to ask for the session');
        },
        follow: async () => {
          const daemon = await startDaemon(fo, { env: { CODEXD_UPSTREAM: up.socket } });
          daemons.push(daemon);
          const c = await client(fo);
          clients.push(c);
          return { daemon, c, updates: recorder<Status>((listener) => c.onAccountUpdated(listener)) };
        },
      };
      up.answer = (method) => (method === 'account/session' ? s.answer : undefined);
      return s;
    },
  };
  return world;
}
