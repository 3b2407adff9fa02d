// The follower's upstream link and the client core under it, in process, with mock timers: the
// backoff between attempts, the time limit of each request, the heartbeat that takes a silent
// link down, reconnects that go on whatever failed, loop detection, and the codes of a protocol-1
// peer. The upstream is a hand-made one on a real socket (upstream-support.ts).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { Backoff } from '../daemon/follower/backoff.js';
import { LinkDown, UpstreamLink } from '../daemon/follower/upstream.js';
import type { Logger } from '../daemon/runtime/log.js';
import { CodexdError, ErrorCodes, NoAnswer } from '../shared/errors.js';
import { Requests } from '../shared/protocol.js';
import { RpcClient } from '../shared/rpc-client.js';
import type { Transport } from '../shared/transports.js';
import { netConnect } from '../shared/unix-socket.js';
import { fileSandbox } from './helpers.js';
import { startFakeUpstream, type FakeUpstream } from './upstream-support.js';

/** Lets I/O and promise chains settle without moving the mocked clock. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
}

function recordingLog(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const text = (a: unknown, b?: unknown): string => String(typeof a === 'string' ? a : b);
  return { warnings, warn: (a: unknown, b?: unknown) => void warnings.push(text(a, b)), info: () => undefined, debug: () => undefined, error: () => undefined } as unknown as Logger & { warnings: string[] };
}

const refused: Transport = {
  check: () => true,
  prepare: () => undefined,
  connect: () => Promise.reject(Object.assign(new Error('connect ECONNREFUSED /nowhere'), { code: 'ECONNREFUSED' })),
};

function linkTo(path: string, transport?: Transport, log = recordingLog()): UpstreamLink {
  return new UpstreamLink({ path, log, instanceId: 'me', timeoutMs: 1000, retryMaxMs: 4000, ...(transport ? { transport } : {}) });
}

async function upstream(): Promise<FakeUpstream> {
  const up = await startFakeUpstream(fileSandbox().dir);
  up.answer = (method) => (method === 'initialize' ? { result: { serverInfo: { name: 'codexd', version: '0.0.0' }, protocolVersion: 2, instanceIds: ['up'] } } : undefined);
  return up;
}

describe('Backoff', () => {
  it('doubles from the minimum to the ceiling, and starts over after reset', () => {
    const backoff = new Backoff(500, 4000);
    assert.deepEqual([1, 2, 3, 4, 5].map(() => backoff.next()), [500, 1000, 2000, 4000, 4000]);
    backoff.reset();
    assert.equal(backoff.next(), 500);
  });
});

describe('the upstream link', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('a refused upstream is tried again after 0.5, 1, 2, 4 and 4 s (the ceiling), and the reason logged once', async () => {
    let attempts = 0;
    const log = recordingLog();
    const link = linkTo('/nowhere', { ...refused, connect: (path) => (attempts++, refused.connect(path)) }, log);
    link.start();
    await settle();
    assert.equal(attempts, 1);
    for (const wait of [500, 1000, 2000, 4000, 4000]) {
      mock.timers.tick(wait - 1);
      await settle();
      const earlier: number = attempts;
      mock.timers.tick(1);
      await settle();
      assert.equal(attempts, earlier + 1, `an attempt ${wait} ms after the last`);
    }
    link.stop();
    assert.equal(log.warnings.length, 1, log.warnings.join('\n'));
  });

  it('an initialize that is never answered fails after the time limit, and the next attempt follows', async () => {
    const up = await upstream();
    up.behaviour = 'silent';
    const link = linkTo(up.socket);
    const unreachable = once(link, 'unreachable');
    link.start();
    await waitUntil(() => up.count('initialize') === 0 && up.connections === 1);
    mock.timers.tick(1000);
    const [why] = (await unreachable) as [string];
    assert.match(why, /did not answer initialize within 1 s/);
    up.behaviour = 'answer';
    const connected = once(link, 'connected');
    await settle();
    mock.timers.tick(500);
    await connected;
    assert.equal(up.connections, 2);
    link.stop();
    await up.close();
  });

  it('a link that falls silent is taken down by the heartbeat and reconnected 0.5 s later; a request in flight ends as LinkDown', async () => {
    const up = await upstream();
    const link = linkTo(up.socket);
    const connected = once(link, 'connected');
    link.start();
    await connected;
    up.behaviour = 'silent';
    const pending = link.request(Requests.accountSession, {});
    const disconnected = once(link, 'disconnected');
    mock.timers.tick(1000); // the request's time limit
    await assert.rejects(pending, LinkDown);
    await disconnected;
    up.behaviour = 'answer';
    const again = once(link, 'connected');
    await settle();
    mock.timers.tick(500);
    await again;
    assert.equal(up.connections, 2);
    // Up again and quiet: the heartbeat goes out every time limit, and a silence there takes the link down too.
    up.behaviour = 'silent';
    const down = once(link, 'disconnected');
    await settle();
    mock.timers.tick(1000);
    await settle();
    mock.timers.tick(1000);
    await down;
    link.stop();
    await up.close();
  });

  it('an upstream whose instance ids include this daemon\'s is refused', async () => {
    const up = await upstream();
    up.answer = (method) => (method === 'initialize' ? { result: { serverInfo: { name: 'codexd', version: '0.0.0' }, protocolVersion: 2, instanceIds: ['up', 'me'] } } : undefined);
    const link = linkTo(up.socket);
    const unreachable = once(link, 'unreachable');
    link.start();
    const [why] = (await unreachable) as [string];
    assert.equal(why, 'it leads back to this codexd (it follows this daemon, directly or through others); point --upstream (CODEXD_UPSTREAM) at the codexd that holds the login');
    link.stop();
    await up.close();
  });
});

describe('the client core', () => {
  it('reads a protocol-1 daemon\'s error codes as protocol 2\'s, and cuts a long message', async () => {
    const up = await startFakeUpstream(fileSandbox().dir);
    up.answer = (method) => (method === 'account/token' ? { error: { code: -32001, message: 'x'.repeat(5000) } } : undefined);
    const connection = new RpcClient(await netConnect(up.socket), 'the test upstream');
    assert.equal((await connection.initialize({})).protocolVersion, 1);
    const error = await connection.request(Requests.accountToken, {}).catch((e: unknown) => e);
    assert.ok(error instanceof CodexdError);
    assert.equal(error.code, ErrorCodes.notLoggedIn);
    assert.ok(error.message.length <= 1001);
    connection.close();
    await up.close();
  });

  it('a request with a time limit rejects with NoAnswer when it passes', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const up = await upstream();
      up.behaviour = 'silent';
      const connection = new RpcClient(await netConnect(up.socket), 'the test upstream');
      const pending = connection.request(Requests.accountRead, {}, 500);
      mock.timers.tick(500);
      await assert.rejects(pending, (error: unknown) => error instanceof NoAnswer && error.message === 'the test upstream did not answer account/read within 0.5 s');
      connection.close();
      await up.close();
    } finally {
      mock.timers.reset();
    }
  });

  it('every codexd error code is outside JSON-RPC\'s reserved range, and no two are the same', () => {
    const standard = new Set([-32700, -32600, -32601, -32602, -32603]);
    const codes = Object.values(ErrorCodes);
    assert.equal(new Set(codes).size, codes.length);
    for (const code of codes) assert.ok(standard.has(code) || code < -32768 || code > -32000, `${code} is in the reserved range`);
  });
});

/** Waits for real I/O (the mocked clock stands still meanwhile). */
async function waitUntil(done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
  assert.ok(done(), 'the condition came true');
}
