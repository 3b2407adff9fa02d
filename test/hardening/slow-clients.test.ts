// Slow and greedy clients: a half-sent frame that stalls is closed after the idle timeout (and
// not before); an idle connection with nothing half-sent is left alone; a client that floods
// requests and never reads the answers is cut off, and cannot make the daemon's memory grow with
// what it sends; many clients that never read their notifications are cut off, slowest first,
// once their unread output together passes the daemon's global budget.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { CodexdClient } from '../../client/index.js';
import { sleep, waitFor, type Daemon, type Sandbox } from '../helpers.js';
import { fixture, writeAtomically } from '../refresh-support.js';
import { RawConnection, request, rssKiB, suite } from './support.js';

const s = suite('slow clients');
/** Long enough that a busy machine's scheduling delays stay well inside it (the trickle test sends every quarter of it). */
const FRAME_TIMEOUT_MS = 2000;
/**
 * How much the daemon may grow while a client floods it. Without flow control it grew with the
 * input (+250 MiB for the 64 MB this test can send); with it, it stays at a few tens of MiB.
 */
const GROWTH_LIMIT_KIB = 64 * 1024;
const API_KEY = 'sk-slow-clients-0123456789abcdef';
s.secret('API key (slow clients)', API_KEY);

let box: Sandbox;
let daemon: Daemon;
let bystander: CodexdClient;
let baselineRss = 0;

async function stillServed(): Promise<void> {
  assert.equal((await bystander.daemonStatus()).pid, daemon.pid, 'the other client is still served');
}

describe('slow clients', () => {
  before(async () => {
    box = s.box({ CODEXD_FRAME_TIMEOUT_MS: String(FRAME_TIMEOUT_MS), CODEXD_LOG_LEVEL: 'info' });
    writeAtomically(box.codexHome, JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: API_KEY }, null, 2));
    daemon = await s.daemon(box);
    bystander = await s.client(box);
    const warm = await RawConnection.open(box.socket);
    await warm.write(Buffer.concat(Array.from({ length: 2000 }, (_, i) => request(i, 'account/read', {}))));
    await waitFor(() => warm.messages.length === 2000, 'the warm-up answers');
    warm.close();
    await sleep(300);
    baselineRss = rssKiB(daemon.pid);
  });

  const halves: Array<[string, string]> = [
    ['half a header', 'Content-Len'],
    ['a header without its blank line', 'Content-Length: 52\r\n'],
    ['a header and no body', 'Content-Length: 52\r\n\r\n'],
    ['a header and half the body', 'Content-Length: 52\r\n\r\n{"jsonrpc":"2.0","id":1,'],
  ];
  for (const [name, text] of halves) {
    it(`${name}, then silence: closed after the ${FRAME_TIMEOUT_MS} ms idle timeout, not before`, async () => {
      const conn = await RawConnection.open(box.socket);
      const at = Date.now();
      await conn.write(text);
      s.count({ bytes: text.length });
      await sleep(FRAME_TIMEOUT_MS / 2);
      assert.equal(conn.closed, false, 'not closed before the timeout');
      await waitFor(() => conn.closed, 'the stalled connection to be closed', FRAME_TIMEOUT_MS + 30_000);
      const after = conn.closedAt - at;
      assert.ok(after >= FRAME_TIMEOUT_MS - 20, `closed after ${after} ms`);
      assert.deepEqual(conn.messages, []);
      await stillServed();
    });
  }

  it('a frame trickled in slower than the whole timeout but never idle for it is answered; an idle connection with nothing pending stays open', async () => {
    const trickle = await RawConnection.open(box.socket);
    const idle = await RawConnection.open(box.socket);
    const payload = request('trickle', 'daemon/status', {});
    const step = Math.ceil(payload.length / 8);
    for (let at = 0; at < payload.length; at += step) {
      await trickle.write(payload.subarray(at, at + step));
      await sleep(FRAME_TIMEOUT_MS / 4);
    }
    s.count({ bytes: payload.length });
    const answer = await waitFor(() => trickle.byId('trickle'), 'the trickled request to be answered');
    assert.equal((answer.result as { pid: number }).pid, daemon.pid);
    assert.equal(idle.closed, false, 'a connection with nothing half-sent is not timed out');
    assert.equal((await idle.call('late', 'daemon/status', {})).id, 'late');
    trickle.close();
    idle.close();
  });

  it('a client that reuses one id for many pipelined requests (against JSON-RPC) is not wedged by the flow control', async () => {
    const conn = await RawConnection.open(box.socket);
    const payload = Buffer.concat(Array.from({ length: 400 }, () => request('same', 'account/read', {})));
    await conn.write(payload);
    s.count({ bytes: payload.length });
    await waitFor(() => conn.messages.length > 0, 'an answer to the reused id');
    await sleep(200);
    const probe = await conn.call('probe', 'daemon/status', {});
    assert.equal((probe.result as { pid: number }).pid, daemon.pid, 'the connection is still read and answered');
    conn.close();
  });

  it('a client that floods requests and never reads the answers is cut off, and the daemon does not grow with what it sent', async () => {
    const conn = await RawConnection.open(box.socket);
    conn.socket.pause(); // never read
    let peak = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssKiB(daemon.pid));
    }, 10);
    const LIMIT = 64 * 1024 * 1024;
    let written = 0;
    let id = 0;
    try {
      while (!conn.closed && conn.error === null && written < LIMIT) {
        const chunk = Buffer.concat(Array.from({ length: 1000 }, () => request(id++, 'account/read', {})));
        written += chunk.length;
        if (!conn.socket.write(chunk)) {
          await Promise.race([new Promise((resolve) => conn.socket.once('drain', resolve)), conn.done, sleep(2000)]);
          if (conn.socket.writableLength > 0 && !conn.closed) {
            // The daemon stopped reading us; keep the pressure on for a while, then stop.
            await sleep(500);
            if (conn.socket.writableLength > 0) break;
          }
        }
      }
      // A paused socket sees no end-of-file, so ask the daemon how many connections it still has.
      await waitFor(async () => conn.error !== null || (await bystander.daemonStatus()).connections === 1, 'the daemon to cut the flooding client off', 15_000);
    } finally {
      clearInterval(sampler);
      conn.close();
    }
    s.count({ bytes: written });
    const growth = peak - baselineRss;
    s.note(`non-reading client: sent ${(written / 1e6).toFixed(1)} MB before it was cut off; daemon RSS peak +${(growth / 1024).toFixed(1)} MiB over ${(baselineRss / 1024).toFixed(1)} MiB`);
    assert.ok(growth < GROWTH_LIMIT_KIB, `the daemon's RSS grew by ${(growth / 1024).toFixed(1)} MiB while a client sent ${(written / 1e6).toFixed(1)} MB it never read answers to`);
    await stillServed();
    await waitFor(() => rssKiB(daemon.pid) < baselineRss + GROWTH_LIMIT_KIB, 'RSS back near the baseline', 10_000);
  });

  it('many clients that never read their notifications: cut off once their unread output passes the global budget, the reader is still served, and RSS comes back', async () => {
    const SILENT = 100;
    /**
     * 16 updates of 200 KiB: 3.3 MB to each silent client, under the 4 MiB per-connection cap, but
     * 330 MB in all, five times the 64 MiB global budget.
     */
    const ROUNDS = 16;
    const SLACK_KIB = 48 * 1024;
    const issuer = await s.issuer();
    // Each account/updated carries the email: 200 KiB here, for 100 connections.
    const tags = ['a', 'b'];
    const fixtures = tags.map((tag) => {
      const account = { ...issuer.account, email: `${tag.repeat(200 * 1024)}@example.com` };
      return fixture(issuer.mintTokens({ account }), account);
    });
    const busy = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_LOG_LEVEL: 'info' });
    writeAtomically(busy.codexHome, fixtures[1]!.raw);
    const d = await s.daemon(busy);
    const { client: reader, updates } = await s.watcher(busy);
    await reader.read();
    const baseline = rssKiB(d.pid);
    const silent = await Promise.all(Array.from({ length: SILENT }, () => RawConnection.open(busy.socket)));
    for (const conn of silent) conn.socket.pause();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, rssKiB(d.pid))), 10);
    try {
      for (let round = 0; round < ROUNDS; round++) {
        const seen = updates.values.length;
        writeAtomically(busy.codexHome, fixtures[round % 2]!.raw);
        const announced = (u: (typeof updates.values)[number]): boolean => u.account?.type === 'chatgpt' && u.account.email?.startsWith(tags[round % 2]!) === true;
        await waitFor(() => updates.values.slice(seen).some(announced), `round ${round} announced to the reader`, 15_000);
      }
      const status = await reader.daemonStatus();
      assert.equal(status.pid, d.pid, 'the reader is still served');
      const left = status.connections - 1;
      assert.ok(left <= SILENT / 2, `most silent clients were cut off, though none reached the per-connection cap: ${left} of ${SILENT} left`);
    } finally {
      clearInterval(sampler);
      for (const conn of silent) conn.close();
    }
    let rss = 0;
    await waitFor(() => (rss = rssKiB(d.pid)) <= baseline + SLACK_KIB, `RSS back within ${SLACK_KIB} KiB of ${baseline} KiB`, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}; last seen ${rss} KiB`);
    });
    s.count({ bytes: 0 });
    s.note(`unread notifications: ${SILENT} silent clients, ${ROUNDS} updates of 200 KiB; RSS peak +${((peak - baseline) / 1024).toFixed(1)} MiB, after +${((rss - baseline) / 1024).toFixed(1)} MiB`);
  });
});
