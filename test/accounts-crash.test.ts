// kill -9 during a switch leaves every account intact: none lost, none duplicated. The daemon runs
// under strace, which makes every fsync, rename and unlink return 20 ms late, so that a switch
// takes long enough to be killed between any two of its steps; the kill comes at offsets swept
// across one switch's whole length, right after the request was sent included.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import type { CodexdClient } from '../client/index.js';
import { canConnect, client, codexdBin, killAtEnd, sleep, slowSyscalls, straceProblem, waitFor } from './helpers.js';
import { NAMES, onDisk, threeAccounts, WHO_BY_NAME, type Who } from './accounts-support.js';
import type { Scene } from './refresh-support.js';

const ITERATIONS = 36;
const SLOW_SYSCALLS = slowSyscalls('fsync,rename,unlink', 20);

/** The built codexd under strace; resolves with a client once it answers. */
async function slowDaemon(s: Scene): Promise<{ c: CodexdClient; pid: number }> {
  // The scene's clean-up kills the daemon itself (strace killed leaves its tracee running).
  const proc = spawn('strace', [...SLOW_SYSCALLS, process.execPath, codexdBin, '--log-file', s.box.logFile], { env: s.box.env, stdio: 'ignore' });
  killAtEnd(proc);
  await waitFor(() => canConnect(s.box.socket), `codexd under strace to listen; log:\n${s.log()}`, 30_000);
  const c = await client(s.box);
  return { c, pid: (await c.daemonStatus()).pid };
}

function exited(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

type Moment = 'before' | 'outgoing copied' | 'auth.json replaced' | 'done';

/** Checks what a kill left on disk and names the moment it came at. */
function check(s: Scene, originals: Map<Who, string>, from: Who, to: Who): Moment {
  const { active, inactive } = onDisk(s);
  assert.ok(active, 'auth.json is never removed by a switch');
  const all = [active, ...inactive];
  for (const login of all) assert.equal(login.raw, originals.get(login.who), `${login.file} is one account's whole record, byte for byte`);
  assert.deepEqual([...new Set(all.map((login) => login.who))].sort(), [...originals.keys()].sort(), 'no account lost');
  const files = inactive.map((login) => login.who);
  assert.equal(new Set(files).size, files.length, 'no account has two files');
  const copies = files.filter((who) => who === active.who).length;
  if (active.who === from) return copies === 0 ? 'before' : 'outgoing copied';
  assert.equal(active.who, to, 'auth.json holds the account it held or the one asked for');
  return copies === 0 ? 'done' : 'auth.json replaced';
}

describe('kill -9 during a switch', () => {
  it(`leaves every account intact, at ${ITERATIONS} points swept across the switch`, { timeout: 600_000 }, async (t) => {
    const problem = straceProblem(SLOW_SYSCALLS);
    if (problem) {
      t.skip(problem);
      return;
    }
    const { s, daemon } = await threeAccounts(t);
    await daemon.stop();
    const originals = new Map(onDisk(s).inactive.concat(onDisk(s).active!).map((login) => [login.who, login.raw] as const));
    assert.equal(originals.size, 3);
    const names = Object.keys(WHO_BY_NAME);
    const seen = new Map<Moment, number>();

    // One switch, not killed, to know how long one takes under strace.
    const calibration = await slowDaemon(s);
    const started = Date.now();
    await calibration.c.switchAccount(NAMES.work);
    const switchMs = Date.now() - started;
    await calibration.c.close();
    process.kill(calibration.pid, 'SIGTERM');
    await waitFor(() => exited(calibration.pid), 'codexd to stop', 10_000);

    for (let i = 0; i < ITERATIONS; i++) {
      const from = onDisk(s).active!.who;
      const to = names.map((name) => WHO_BY_NAME[name]!).find((who) => who !== from && (i % 2 === 0 || who !== 'apikey'))!;
      const name = names.find((candidate) => WHO_BY_NAME[candidate] === to)!;
      const daemon = await slowDaemon(s);
      const delay = Math.round((i / (ITERATIONS - 1)) * switchMs * 1.2);
      const request = daemon.c.switchAccount(name).catch(() => undefined);
      await sleep(delay);
      process.kill(daemon.pid, 'SIGKILL');
      await waitFor(() => exited(daemon.pid), 'the killed codexd to be gone');
      await request;
      await daemon.c.close();
      const moment = check(s, originals, from, to);
      seen.set(moment, (seen.get(moment) ?? 0) + 1);
    }
    t.diagnostic(`one switch took ${switchMs} ms under strace; kills came: ${JSON.stringify(Object.fromEntries(seen))}`);
    assert.ok((seen.get('outgoing copied') ?? 0) + (seen.get('auth.json replaced') ?? 0) > 0, 'some kills came in the middle of a switch');

    // The next start removes the copy too many; every account is there once, with its name.
    const last = await slowDaemon(s);
    const accounts = await last.c.accounts();
    assert.deepEqual(accounts.map((account) => account.name).sort(), [...names].sort());
    const { active, inactive } = onDisk(s);
    assert.deepEqual([active!.who, ...inactive.map((login) => login.who)].sort(), [...originals.keys()].sort(), 'each account once');
    assert.equal(accounts.find((account) => account.active)!.name, names.find((name) => WHO_BY_NAME[name] === active!.who));
    await last.c.close();
  });
});
