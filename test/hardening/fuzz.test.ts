// Bad input on the socket, from a seeded generator (the seed is printed; CODEXD_HARDENING_SEED
// replays it): random bytes, valid frames holding wrong JSON-RPC, wrong param types for every
// method, huge, negative and non-numeric Content-Length values, frames split byte by byte, and
// many requests pipelined. Each batch runs a fixed number of cases, and the whole run sends a
// fixed volume, whatever the machine's speed; CODEXD_FUZZ_LIMIT_S (default 600) only stops a
// batch that hangs.
//
// What must hold, case by case: whatever the daemon sends back is well-framed, every error has
// the JSON-RPC code the input deserves (never an internal error), a request with a usable id gets
// exactly one answer, and a broken frame closes its connection (the stall timeout is far away,
// so it is the frame that closed it). After each batch: another client still gets correct
// answers, and the daemon's memory and file descriptors are back near their baseline.
import assert from 'node:assert/strict';
import { describe, it, before } from 'node:test';
import type { CodexdClient } from '../../client/index.js';
import { sleep, waitFor, type Daemon, type Sandbox } from '../helpers.js';
import { writeAtomically } from '../refresh-support.js';
import { fdCount, frame, prng, RawConnection, request, rssKiB, runSeed, suite, type Prng, type RpcMessage } from './support.js';

const s = suite('fuzzing');
const rnd: Prng = prng(runSeed('fuzzing'));
/** A safety limit per batch, not a budget: each batch runs its fixed number of cases. */
const LIMIT_MS = Number(process.env['CODEXD_FUZZ_LIMIT_S'] ?? '600') * 1000;
/** The stall timeout: far beyond any case, so a connection that closed was closed by what it sent. */
const FRAME_TIMEOUT_MS = 600_000;
/**
 * "Back near baseline": V8 and malloc keep some of the memory they grew into (RSS settles 30–60 MiB
 * above a warmed-up baseline here, whatever the volume). Holding on to the fuzzed input would be
 * far bigger: the run sends more than twice this much.
 */
const RSS_SLACK_KIB = 96 * 1024;
/** What the whole run sends (the pipelined batch tops it up to this). */
const VOLUME_BYTES = 2 * RSS_SLACK_KIB * 1024 + 16 * 1024 * 1024;

const API_KEY = 'sk-fuzz-held-key-0123456789abcdef';
s.secret('API key (fuzz daemon)', API_KEY);

const EXPECTED_ERRORS = new Set([-32700, -32600, -32601, -32602]);

let box: Sandbox;
let daemon: Daemon;
let bystander: CodexdClient;
let baseline = { rss: 0, fds: 0 };
let totalCases = 0;

/** Every fuzz connection, so that a failed case cannot leave one open into the next batch's fd count. */
const opened = new Set<RawConnection>();
async function openConn(): Promise<RawConnection> {
  const conn = await RawConnection.open(box.socket);
  opened.add(conn);
  void conn.done.then(() => opened.delete(conn));
  return conn;
}

function bytesOut(n: number): void {
  s.count({ bytes: n });
}

/** Checks everything the daemon sent on one connection: framed, JSON-RPC, errors of the expected kinds. */
function checkReplies(conn: RawConnection, where: string, allowResults = false): void {
  assert.equal(conn.garbage, '', `${where}: the daemon sent something that is not a well-formed frame`);
  for (const m of conn.messages) {
    assert.equal(m.jsonrpc, '2.0', `${where}: ${JSON.stringify(m).slice(0, 200)}`);
    if (m.error) {
      assert.ok(EXPECTED_ERRORS.has(m.error.code), `${where}: unexpected error ${JSON.stringify(m.error).slice(0, 300)}`);
      s.capture('fuzz error reply', m.error.message.slice(0, 300));
    } else {
      assert.ok(allowResults, `${where}: a result for input that should have failed: ${JSON.stringify(m).slice(0, 300)}`);
    }
  }
}

async function health(batch: string): Promise<void> {
  for (const conn of opened) conn.close();
  // The long-lived client and a brand-new one both get correct answers.
  assert.equal((await bystander.daemonStatus()).pid, daemon.pid, `${batch}: the bystander is still served`);
  const fresh = await s.client(box);
  const init = await fresh.daemonStatus();
  assert.equal(init.pid, daemon.pid);
  const status = await fresh.read();
  assert.deepEqual([status.state, status.account?.type], ['ok', 'apiKey'], `${batch}: account/read is still right`);
  const token = await fresh.token();
  assert.equal(token.type === 'apiKey' && token.apiKey, API_KEY);
  await fresh.close();
  assert.equal(daemon.proc.exitCode, null, `${batch}: the daemon is alive`);
  // Memory and descriptors come back.
  let rss = 0;
  let fds = 0;
  await waitFor(() => {
    rss = rssKiB(daemon.pid);
    fds = fdCount(daemon.pid);
    return rss <= baseline.rss + RSS_SLACK_KIB && fds <= baseline.fds;
  }, `${batch}: RSS back within ${RSS_SLACK_KIB} KiB of ${baseline.rss} KiB and fds back to ${baseline.fds}`, 60_000).catch((error: Error) => {
    throw new Error(`${error.message}; last seen: RSS ${rss} KiB, fds ${fds}`);
  });
  s.note(`${batch}: RSS ${rss} KiB (baseline ${baseline.rss}), fds ${fds} (baseline ${baseline.fds})`);
}

/** Runs `make()` cases `width` at a time, until `done(i)` (`i` cases ran). */
async function runCases(width: number, done: (i: number) => boolean, make: (i: number) => Promise<void>): Promise<void> {
  let i = 0;
  while (!done(i)) {
    const group: Array<Promise<void>> = [];
    for (let k = 0; k < width; k++) group.push(make(i++));
    await Promise.all(group);
  }
  totalCases += i;
  s.ran(i);
}

/** Runs `count` cases (rounded up to whole groups of `width`). */
function forCount(count: number, width: number, make: (i: number) => Promise<void>): Promise<void> {
  return runCases(width, (i) => i >= count, make);
}

/** Waits for the daemon to close `conn` (its stall timeout is far away: it is the input's doing). */
async function rejected(conn: RawConnection, what: string): Promise<void> {
  await waitFor(() => conn.closed, `${what}: the connection closed`, 30_000);
}

/** Waits until the connection is closed or has `count` messages, for at most `ms`. */
async function settle(conn: RawConnection, ms: number, count = Infinity): Promise<void> {
  const deadline = Date.now() + ms;
  while (!conn.closed && conn.messages.length < count && Date.now() < deadline) await sleep(5);
}

// ---- generators ----

const NON_BOOLEANS: unknown[] = ['true', 'false', 1, 0, -1, 1.5, null, [], {}, [true], { value: true }, '', 'yes'];
const NON_STRINGS: unknown[] = [1, 0, true, false, null, [], {}, ['login-1'], { id: 'x' }];
const NON_OBJECTS: unknown[] = ['', 'x', 0, 1, -1, 3.14, true, false, [], [1], ['a', 'b'], [{}], [null]];

/** Params each method must refuse with -32602; never a valid shape (some of these methods act). */
function wrongParams(r: Prng): Array<{ method: string; params: unknown }> {
  const pick = <T>(items: readonly T[]): T => r.pick(items);
  return [
    { method: 'initialize', params: pick(NON_OBJECTS) },
    { method: 'initialize', params: { clientInfo: pick(['codex', 1, true, [], null]) } },
    { method: 'initialize', params: { clientInfo: { name: pick(NON_STRINGS.filter((v) => v !== null)), version: '1' } } },
    { method: 'account/read', params: pick(NON_OBJECTS) },
    { method: 'account/read', params: { refreshToken: pick(NON_BOOLEANS) } },
    { method: 'account/token', params: pick(NON_OBJECTS) },
    { method: 'account/token', params: { forceRefresh: pick(NON_BOOLEANS) } },
    { method: 'account/login/start', params: pick(NON_OBJECTS) },
    { method: 'account/login/start', params: {} },
    { method: 'account/login/start', params: { type: pick([...NON_STRINGS, 'apikey', 'ChatGPT', 'device', 'chatgpt ', 'apiKey\u0000']) } },
    { method: 'account/login/start', params: { type: 'apiKey', apiKey: pick([...NON_STRINGS, '', '   ', '\n\t']) } },
    { method: 'account/login/start', params: { type: 'apiKey' } },
    { method: 'account/login/start', params: { type: 'chatgpt', openBrowser: pick(NON_BOOLEANS) } },
    { method: 'account/login/cancel', params: pick(NON_OBJECTS) },
    { method: 'account/login/cancel', params: { loginId: pick([...NON_STRINGS, '', '  ']) } },
    { method: 'account/login/cancel', params: {} },
    { method: 'account/logout', params: pick(NON_OBJECTS) },
    { method: 'daemon/status', params: pick(NON_OBJECTS) },
    { method: 'daemon/shutdown', params: pick(NON_OBJECTS) },
  ];
}

interface Malformed {
  body: string | Buffer;
  /** The id the error must carry (null: an error with id null), or undefined: no answer at all. */
  id: number | string | null | undefined;
  code?: number;
}

/** Frames whose JSON is wrong as JSON-RPC (or not JSON at all). */
function malformed(r: Prng, id: number): Malformed {
  const choice = r.int(18);
  switch (choice) {
    case 0:
      return { body: `#${r.bytes(r.int(200)).toString('latin1')}`, id: null, code: -32700 };
    case 1:
      return { body: `{"jsonrpc":"2.0","id":${id},"method":"daemon/status"`, id: null, code: -32700 };
    case 2:
      return { body: '', id: null, code: -32700 };
    case 3:
      return { body: r.pick(['1', '"str"', 'null', 'true', '3.5', '"\\u0000"']), id: null, code: -32600 };
    case 4:
      return { body: `[${JSON.stringify({ jsonrpc: '2.0', id, method: 'daemon/status' })}]`, id: null, code: -32600 };
    case 5:
      return { body: `${'['.repeat(1 + r.int(50_000))}${']'.repeat(0)}`, id: null, code: -32700 };
    case 6:
      return { body: `${'['.repeat(1000)}${']'.repeat(1000)}`, id: null, code: -32600 };
    case 7:
      return { body: JSON.stringify({ jsonrpc: r.pick(['1.0', '2', 2, null, '']), id, method: 'daemon/status' }), id, code: -32600 };
    case 8:
      return { body: JSON.stringify({ id, method: 'daemon/status' }), id, code: -32600 };
    case 9:
      return { body: JSON.stringify({ jsonrpc: '2.0', id: r.pick([{}, [], true, [id]]), method: 'daemon/status' }), id: null, code: -32600 };
    case 10:
      return { body: JSON.stringify({ jsonrpc: '2.0', id, method: r.pick([1, null, true, [], {}]) }), id, code: -32600 };
    case 11:
      return { body: JSON.stringify({ jsonrpc: '2.0', id, method: 'daemon/status', params: r.pick([1, 'x', true, null]) }), id, code: -32600 };
    case 12:
      return { body: JSON.stringify({ jsonrpc: '2.0', id, method: r.pick(['', 'account', 'account/', 'Account/Read', 'daemon/status ', '__proto__', 'constructor', 'toString', '$/cancelRequest', 'rpc.discover', 'x'.repeat(2000)]) }), id, code: -32601 };
    case 13:
      return { body: JSON.stringify({ jsonrpc: '2.0', id, error: 'not an object' }), id, code: -32600 };
    case 14:
      return { body: JSON.stringify({ jsonrpc: '2.0' }), id: null, code: -32600 };
    case 15:
      // A response to a request the daemon never sent, and a notification nobody handles: no answer.
      return r.chance(0.5)
        ? { body: JSON.stringify({ jsonrpc: '2.0', id: `r${id}`, result: { x: 1 } }), id: undefined }
        : { body: JSON.stringify({ jsonrpc: '2.0', method: `no/such/notification/${id}`, params: {} }), id: undefined };
    case 16:
      // Not UTF-8.
      return { body: Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":'), Buffer.from([0xff, 0xfe, 0xc0]), Buffer.from('}')]), id: null, code: -32700 };
    default:
      return { body: JSON.stringify({ jsonrpc: '2.0', id, method: 'no/such/method', params: { padding: 'x'.repeat(r.int(10_000)) } }), id, code: -32601 };
  }
}

/** Sends `frames` on one connection in random chunks, then a probe, and checks the answers. */
async function sendExpecting(items: Malformed[], where: string): Promise<void> {
  const conn = await openConn();
  const probeId = `probe-${rnd.int(1e9)}`;
  const payload = Buffer.concat([...items.map((m) => frame(m.body)), request(probeId, 'daemon/status', {})]);
  await writeChunked(conn, payload);
  bytesOut(payload.length);
  const answers = items.filter((m) => m.id !== undefined).length + 1;
  await waitFor(() => conn.messages.length >= answers || conn.closed, `${where}: ${answers} answers to ${items.length} frames and the probe`, 30_000);
  assert.equal(conn.closed, false, `${where}: wrong JSON-RPC in a good frame must not close the connection`);
  assert.ok(conn.byId(probeId), `${where}: the probe is answered`);
  checkReplies(conn, where, true);
  const results = conn.messages.filter((m) => m.result !== undefined);
  assert.deepEqual(results.map((m) => m.id), [probeId], `${where}: only the probe succeeds`);
  for (const item of items) {
    if (item.id === undefined || item.id === null) continue;
    const answers = conn.messages.filter((m) => m.id === item.id);
    assert.equal(answers.length, 1, `${where}: exactly one answer for id ${item.id}: ${JSON.stringify(answers)}`);
    assert.equal(answers[0]!.error?.code, item.code, `${where}: id ${item.id} got ${JSON.stringify(answers[0]).slice(0, 300)}`);
  }
  const nullErrors = conn.messages.filter((m) => m.id === null).length;
  const expectedNull = items.filter((m) => m.id === null).length;
  assert.equal(nullErrors, expectedNull, `${where}: one id-null error per frame that had no usable id`);
  conn.close();
}

async function writeChunked(conn: RawConnection, payload: Buffer): Promise<void> {
  let at = 0;
  while (at < payload.length) {
    const size = rnd.chance(0.5) ? payload.length - at : 1 + rnd.int(Math.min(4096, payload.length - at));
    await conn.write(payload.subarray(at, at + size));
    at += size;
  }
}

// ---- the batches ----

describe('fuzzing the socket', () => {
  before(async () => {
    box = s.box({ CODEXD_FRAME_TIMEOUT_MS: String(FRAME_TIMEOUT_MS), CODEXD_LOG_LEVEL: 'info', CODEXD_MAX_CONNECTIONS: '512' });
    writeAtomically(box.codexHome, JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: API_KEY }, null, 2));
    daemon = await s.daemon(box);
    bystander = await s.client(box);
    // Warm up with a little of everything that follows (JIT, buffers, the heap V8 settles into), then measure.
    const warm = await openConn();
    await warm.write(Buffer.concat(Array.from({ length: 5000 }, (_, i) => request(i, 'account/read', {}))));
    await waitFor(() => warm.messages.length === 5000, 'the warm-up answers', 30_000);
    const pad = 'p'.repeat(1000 * 1000);
    await warm.write(Buffer.concat([request('big', 'account/read', { pad }), frame(`${'['.repeat(50_000)}`), request('after', 'account/read', {})]));
    await waitFor(() => warm.byId('after'), 'the warm-up after a big message');
    warm.close();
    await Promise.all(Array.from({ length: 200 }, async () => {
      const conn = await openConn();
      await conn.write(rnd.bytes(512));
      conn.close();
    }));
    await sleep(1000);
    baseline = { rss: rssKiB(daemon.pid), fds: fdCount(daemon.pid) };
    s.note(`baseline RSS ${baseline.rss} KiB, fds ${baseline.fds}; seed ${rnd.seed}`);
  });

  it('random bytes: framed error replies or a closed connection, never a crash', { timeout: LIMIT_MS }, async () => {
    await forCount(4000, 24, async (i) => {
      const conn = await openConn();
      const kind = rnd.int(4);
      let payload: Buffer;
      if (kind === 0) payload = rnd.bytes(1 + rnd.int(2048));
      else if (kind === 1) payload = Buffer.concat([rnd.bytes(1 + rnd.int(512)), Buffer.from('\r\n\r\n')]);
      else if (kind === 2) payload = frame(rnd.bytes(rnd.int(2048)));
      else payload = Buffer.concat([Buffer.from(`Content-Length: ${rnd.int(64)}\r\n${rnd.bytes(rnd.int(64)).toString('latin1')}\r\n\r\n`, 'latin1'), rnd.bytes(rnd.int(128))]);
      await writeChunked(conn, payload);
      bytesOut(payload.length);
      await settle(conn, kind === 0 ? 20 : 150, 1);
      checkReplies(conn, `random bytes case ${i} (kind ${kind})`);
      conn.close();
    });
    await health('random bytes');
  });

  it('valid frames with wrong JSON-RPC: the right error code for each, the right id, and the connection carries on', { timeout: LIMIT_MS }, async () => {
    await forCount(400, 4, async (i) => {
      const items = Array.from({ length: 5 + rnd.int(40) }, (_, k) => malformed(rnd, i * 1000 + k));
      await sendExpecting(items, `wrong JSON-RPC group ${i}`);
    });
    await health('wrong JSON-RPC');
  });

  it('wrong param types for every method: -32602 (or -32600 for params that are not structured), and nothing acts on them', { timeout: LIMIT_MS }, async () => {
    await forCount(400, 4, async (i) => {
      const items: Malformed[] = wrongParams(rnd).map((w, k) => {
        const id = i * 1000 + k;
        // JSON-RPC 2.0: params that are neither an object nor an array make an invalid request (-32600);
        // structured params of the wrong shape are invalid params (-32602).
        const structured = typeof w.params === 'object' && w.params !== null;
        return { body: JSON.stringify({ jsonrpc: '2.0', id, method: w.method, params: w.params }), id, code: structured ? -32602 : -32600 };
      });
      await sendExpecting(items, `wrong params group ${i}`);
    });
    const status = await bystander.read();
    assert.deepEqual([status.account?.type, status.login], ['apiKey', null], 'no login was started, nothing was logged out');
    await health('wrong params');
  });

  it('ids JSON cannot carry back (1e400 parses as Infinity): an invalid-request error with id null, never an answer', async () => {
    const items: Malformed[] = ['1e400', '-1e400', '1E999'].map((id) => ({ body: `{"jsonrpc":"2.0","id":${id},"method":"daemon/status","params":{}}`, id: null, code: -32600 }));
    await sendExpecting(items, 'unrepresentable ids');
    s.ran(items.length);
    await health('unrepresentable ids');
  });

  it('huge Content-Length values: the connection is closed, nothing is allocated for them', { timeout: LIMIT_MS }, async () => {
    const huge = ['1048577', '2000000', '2147483648', '4294967296', '9999999999', '99999999999', '9007199254740993', `1${'0'.repeat(100)}`];
    await forCount(1000, 16, async (i) => {
      const conn = await openConn();
      const value = rnd.pick(huge);
      const header = Buffer.from(`Content-Length: ${value}\r\n\r\n`);
      const payload = Buffer.concat([header, rnd.bytes(rnd.int(1024))]);
      await conn.write(payload);
      bytesOut(payload.length);
      await rejected(conn, `case ${i}: Content-Length ${value}`);
      checkReplies(conn, `huge length case ${i}`);
    });
    // Exactly the limit is allowed; one byte more is not.
    const atLimit = await openConn();
    const prefix = '{"jsonrpc":"2.0","id":"limit","method":"account/read","params":{"pad":"';
    const suffix = '"}}';
    const body = prefix + 'p'.repeat(1024 * 1024 - prefix.length - suffix.length) + suffix;
    await atLimit.write(frame(body));
    bytesOut(body.length);
    await waitFor(() => atLimit.byId('limit'), 'the answer to a message of exactly 1 MiB');
    assert.equal((atLimit.byId('limit')!.result as { state: string }).state, 'ok');
    atLimit.close();
    await health('huge lengths');
  });

  it('negative, non-numeric and malformed lengths and headers: closed, without waiting for the stall timeout', { timeout: LIMIT_MS }, async () => {
    const bad = ['-1', '-0', '-1048576', 'abc', '1e3', '0x10', '12abc', '', ' ', '+5', '1.0', 'NaN', 'Infinity', '١٢', '12 34', '1_000', '\u0000', '٣'];
    const headers = (value: string): string =>
      rnd.pick([
        `Content-Length: ${value}\r\n\r\n`,
        `content-length:${value}\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n`,
        `Content-Type: application/json\r\n\r\n`,
        `Content-Length 12\r\n\r\n`,
        `: 12\r\n\r\n`,
        `X-Padding: ${'a'.repeat(9000)}\r\n`,
      ]);
    await forCount(2000, 16, async (i) => {
      const conn = await openConn();
      const header = headers(rnd.pick(bad));
      const payload = Buffer.from(header + '{"jsonrpc":"2.0","id":1,"method":"daemon/status"}', 'utf8');
      await conn.write(payload);
      bytesOut(payload.length);
      await rejected(conn, `case ${i}: ${JSON.stringify(header.slice(0, 60))}`);
      checkReplies(conn, `bad length case ${i}`);
      assert.equal(conn.messages.filter((m) => m.result !== undefined).length, 0, `case ${i}: nothing after a broken header is executed`);
    });
    await health('bad lengths');
  });

  it('frames split byte by byte (and at random points) are put back together and answered correctly', { timeout: LIMIT_MS }, async () => {
    await forCount(200, 8, async (i) => {
      const conn = await openConn();
      const calls: Array<[string, string, unknown]> = [
        [`s${i}`, 'daemon/status', {}],
        [`r${i}`, 'account/read', { refreshToken: false }],
        [`i${i}`, 'initialize', { clientInfo: { name: 'fuzz', version: '1' } }],
      ];
      const payload = Buffer.concat(calls.map(([id, method, params]) => request(id, method, params)));
      if (rnd.chance(0.5)) {
        for (let at = 0; at < payload.length; at++) await conn.write(payload.subarray(at, at + 1));
      } else {
        await writeChunked(conn, payload);
      }
      bytesOut(payload.length);
      await waitFor(() => conn.messages.length >= 3 || conn.closed, `case ${i}: three answers`, 10_000);
      assert.equal((conn.byId(`s${i}`)?.result as { pid: number }).pid, daemon.pid);
      assert.equal((conn.byId(`r${i}`)?.result as { state: string }).state, 'ok');
      assert.equal((conn.byId(`i${i}`)?.result as { serverInfo: { name: string } }).serverInfo.name, 'codexd');
      checkReplies(conn, `split case ${i}`, true);
      conn.close();
    });
    await health('split frames');
  });

  it('many requests pipelined on one connection, and on several at once: every one answered, correctly', { timeout: LIMIT_MS }, async () => {
    // Until the run has sent its fixed volume.
    await runCases(3, () => s.counts.bytes >= VOLUME_BYTES, async (i) => {
      const conn = await openConn();
      const n = 500 + rnd.int(4500);
      const expected = new Map<number, (m: RpcMessage) => boolean>();
      const frames: Buffer[] = [];
      for (let k = 0; k < n; k++) {
        const id = i * 100_000 + k;
        const kind = rnd.int(4);
        if (kind === 0) {
          frames.push(request(id, 'daemon/status', {}));
          expected.set(id, (m) => (m.result as { pid?: number })?.pid === daemon.pid);
        } else if (kind === 1) {
          frames.push(request(id, 'account/read', { padding: 'x'.repeat(rnd.int(4000)) }));
          expected.set(id, (m) => (m.result as { state?: string })?.state === 'ok');
        } else if (kind === 2) {
          frames.push(request(id, 'no/such/method', {}));
          expected.set(id, (m) => m.error?.code === -32601);
        } else {
          frames.push(request(id, 'account/read', { refreshToken: 'no' }));
          expected.set(id, (m) => m.error?.code === -32602);
        }
      }
      const payload = Buffer.concat(frames);
      await writeChunked(conn, payload);
      bytesOut(payload.length);
      await waitFor(() => conn.messages.length >= n || conn.closed, `pipelined case ${i}: ${n} answers (got ${conn.messages.length})`, 60_000);
      assert.equal(conn.closed, false);
      assert.equal(conn.messages.length, n);
      for (const m of conn.messages) assert.ok(expected.get(m.id as number)?.(m), `pipelined case ${i}: answer ${JSON.stringify(m).slice(0, 200)}`);
      checkReplies(conn, `pipelined case ${i}`, true);
      conn.close();
    });
    await health('pipelined');
    s.note(`fuzzing: ${totalCases} cases, ${(s.counts.bytes / 1e6).toFixed(1)} MB`);
    assert.ok(totalCases >= 1000, `thousands of cases expected, ran ${totalCases}`);
    assert.ok(s.counts.bytes > 2 * RSS_SLACK_KIB * 1024, `enough bytes fuzzed that keeping them would show in RSS: ${s.counts.bytes}`);
  });
});
