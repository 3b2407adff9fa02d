// Many connections: 1000 at once, all served; then more than the cap, each refused with a
// framed error while the 1000 keep working; then all closed. Three times, so a leak would add up. The
// daemon still serves, and its file descriptors are back to the baseline. And clients past the cap
// that hang up at once (the refusal then meets a closed socket) cannot take the daemon down.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { before, describe, it } from 'node:test';
import { sleep, waitFor, type Daemon, type Sandbox } from '../helpers.js';
import { connect as netConnect } from 'node:net';
import { fdCount, RawConnection, request, suite } from './support.js';
import { ErrorCodes } from '../../shared/protocol.js';

const s = suite('many connections');
const CONCURRENT = 1000;
const OVER = 100;

let box: Sandbox;
let daemon: Daemon;
let baselineFds = 0;
let fdProblem: string | null = null;

/** Soft and hard limits on open files of this process. */
function nofile(): { soft: number; hard: number } {
  const line = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
  const parse = (value: string | undefined): number => (value === 'unlimited' ? Infinity : Number(value));
  return { soft: parse(line?.[1]), hard: parse(line?.[2]) };
}

/** Makes room for the connections at both ends (the daemon inherits the limit); null when there is. */
function ensureFds(needed: number): string | null {
  let { soft, hard } = nofile();
  if (soft >= needed) return null;
  const target = Math.min(hard, Math.max(needed, 8192));
  spawnSync('prlimit', ['--pid', String(process.pid), `--nofile=${target}:${hard === Infinity ? 'unlimited' : hard}`]);
  ({ soft } = nofile());
  return soft >= needed ? null : `the open-file limit is ${soft} (hard ${hard}); ${needed} are needed, and prlimit could not raise it`;
}

/** Opens `n` connections at once. No retries: a client takes EAGAIN (a full accept queue) for "not running". */
async function openMany(n: number): Promise<RawConnection[]> {
  const results = await Promise.allSettled(Array.from({ length: n }, () => RawConnection.open(box.socket)));
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  const opened = results.filter((r): r is PromiseFulfilledResult<RawConnection> => r.status === 'fulfilled').map((r) => r.value);
  if (failed.length > 0) {
    for (const c of opened) c.close();
    const codes = [...new Set(failed.map((r) => (r.reason as NodeJS.ErrnoException).code))].join(', ');
    assert.fail(`${failed.length} of ${n} simultaneous connects failed (${codes})`);
  }
  return opened;
}

describe('many connections', () => {
  before(async () => {
    fdProblem = ensureFds(CONCURRENT * 2 + OVER + 200);
    if (fdProblem) return;
    box = s.box({ CODEXD_MAX_CONNECTIONS: String(CONCURRENT), CODEXD_LOG_LEVEL: 'info' });
    daemon = await s.daemon(box);
    await sleep(300);
    baselineFds = fdCount(daemon.pid);
  });

  for (const round of [1, 2, 3]) {
    it(`round ${round}: ${CONCURRENT} concurrent connections all served, ${OVER} over the cap refused cleanly, all closed, fds back to baseline`, async (t) => {
      if (fdProblem) {
        s.skip(`${t.name}: ${fdProblem}`);
        t.skip(fdProblem);
        return;
      }
      const conns = await openMany(CONCURRENT);
      await Promise.all(conns.map((c, i) => c.write(request(i, 'daemon/status', {}))));
      await waitFor(() => conns.every((c) => c.messages.length > 0 || c.closed), `answers on all ${CONCURRENT} connections`, 30_000);
      for (const [i, c] of conns.entries()) {
        assert.equal(c.closed, false, `connection ${i} is still open`);
        assert.equal((c.byId(i)?.result as { pid?: number } | undefined)?.pid, daemon.pid, `connection ${i} got its answer: ${JSON.stringify(c.messages[0])}`);
      }
      const counted = (await conns[0]!.call('count', 'daemon/status', {})).result as { connections: number };
      assert.equal(counted.connections, CONCURRENT);

      const over = await openMany(OVER);
      await Promise.all(over.map((c) => waitFor(() => c.closed, 'a refused connection to be closed', 10_000)));
      for (const c of over) {
        assert.equal(c.garbage, '');
        assert.equal(c.messages.length, 1, 'one framed error, then the connection is closed');
        assert.equal(c.messages[0]!.error?.code, ErrorCodes.tooManyConnections);
        assert.match(c.messages[0]!.error!.message, new RegExp(`too many connections \\(limit ${CONCURRENT}\\)`));
      }
      // The ones inside the cap are unaffected.
      const again = await Promise.all(conns.slice(0, 50).map((c, i) => c.call(`again-${i}`, 'account/read', {})));
      assert.ok(again.every((m) => (m.result as { state?: string }).state === 'loggedOut'));

      for (const c of conns) c.close();
      await waitFor(() => fdCount(daemon.pid) <= baselineFds, `the daemon's fds back to ${baselineFds} (now ${fdCount(daemon.pid)})`, 15_000);
      const checker = await RawConnection.open(box.socket);
      const status = (await checker.call('after', 'daemon/status', {})).result as { pid: number; connections: number };
      assert.deepEqual([status.pid, status.connections], [daemon.pid, 1], 'the daemon still serves, and counts only the new connection');
      checker.close();
      await waitFor(() => fdCount(daemon.pid) === baselineFds, 'the fds exactly at baseline');
      s.note(`round ${round}: ${CONCURRENT} served, ${OVER} refused; daemon fds ${baselineFds} before and after`);
    });
  }
});

describe('clients past the cap that hang up at once', () => {
  it('the refusal meets a closed socket (EPIPE, ECONNRESET) and the daemon carries on', async () => {
    const CAP = 4;
    const HANGUPS = 1000;
    const capped = s.box({ CODEXD_MAX_CONNECTIONS: String(CAP), CODEXD_LOG_LEVEL: 'info' });
    const d = await s.daemon(capped);
    const held = await Promise.all(Array.from({ length: CAP }, () => RawConnection.open(capped.socket)));
    // Each connects and closes before the daemon gets to accept it, in waves so that many wait in
    // the accept queue together.
    for (let wave = 0; wave < HANGUPS / 100; wave++) {
      await Promise.all(Array.from({ length: 100 }, () => new Promise<void>((resolve) => {
        const socket = netConnect(capped.socket);
        socket.on('connect', () => socket.destroy());
        socket.on('error', () => undefined);
        socket.on('close', () => resolve());
      })));
    }
    const answer = await Promise.race([held[0]!.call('after', 'daemon/status', {}), d.exited.then(() => assert.fail(`the daemon died: ${d.stderr()}`))]);
    const status = answer.result as { pid: number; connections: number };
    assert.deepEqual([status.pid, status.connections], [d.pid, CAP], 'the daemon still serves the connections it holds');
    for (const c of held) c.close();
    s.note(`${HANGUPS} connect-and-close clients past a cap of ${CAP}: daemon alive`);
  });
});
