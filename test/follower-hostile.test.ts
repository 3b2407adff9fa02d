// A follower against a hostile upstream (issue 19): a fake upstream on a real socket
// (upstream-support.ts) answers `account/session` with what no codexd would send. The follower
// refuses it, keeps its last good mirror on disk and in memory, says so in status and the log
// (in a few short lines), and stays up.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { CodexdClient, Status } from '../client/index.js';
import { authPath, cli, readLog, waitFor, type Daemon, type Recorder, type Sandbox } from './helpers.js';
import { readJson } from './refresh-support.js';
import { followerScenes, type FollowerScene } from './upstream-support.js';

const world = followerScenes();

interface Scene extends FollowerScene {
  daemon: Daemon;
  foClient: CodexdClient;
  updates: Recorder<Status>;
  good: Record<string, unknown>;
}

/** A follower that has mirrored a good session from a fake upstream. */
async function scene(): Promise<Scene> {
  const s = await world.scene();
  const good = (s.answer as { result: Record<string, unknown> }).result;
  const { daemon, c, updates } = await s.follow();
  await waitFor(() => readJsonOrNull(s.fo)?.tokens?.access_token === good['accessToken'], 'the follower to mirror the good session');
  return Object.assign(s, { daemon, foClient: c, updates, good });
}

function readJsonOrNull(b: Sandbox): ReturnType<typeof readJson> | null {
  try {
    return readJson(authPath(b));
  } catch {
    return null;
  }
}

describe('a follower and a session it must refuse', () => {
  it('refuses tokens that are not strings, null, {} and more; keeps the last good mirror; says so; stays up', async () => {
    const s = await scene();
    const mirrored = readJsonOrNull(s.fo);
    const bad: Array<[unknown, RegExp]> = [
      [{ ...s.good, accessToken: 7, idToken: 5 }, /accessToken is not a string/],
      [null, /not an object/],
      [{}, /authMode is missing/],
      [{ ...s.good, idToken: 'not.a-jwt' }, /idToken is not a JWT/],
      [{ ...s.good, accessToken: 'x'.repeat(200_000) }, /accessToken is longer than/],
      [{ ...s.good, accountId: 'acct_someone_else' }, /account/],
      [{ authMode: 'apikey', apiKey: 42 }, /apiKey is not a string/],
      [{ authMode: 'apikey', apiKey: 'sk-\u001b[2Jevil' }, /apiKey/],
    ];
    for (const [session, why] of bad) {
      const seen = s.updates.values.length;
      await s.change({ result: session });
      const status = await waitFor(() => s.updates.values.slice(seen).find((u) => u.lastRefreshError !== null), `the follower to announce why it refused ${JSON.stringify(session)?.slice(0, 80)}`);
      assert.match(status.lastRefreshError!, /refused the login/, JSON.stringify(session)?.slice(0, 80));
      assert.match(status.lastRefreshError!, why);
      assert.equal(status.state, 'ok', 'the last good login is still served');
      assert.deepEqual(readJsonOrNull(s.fo), mirrored, 'auth.json keeps the last good mirror');
      const token = await s.foClient.token();
      assert.equal((token as { accessToken: string }).accessToken, s.good['accessToken']);
      assert.equal(s.daemon.proc.exitCode, null, 'the follower is still up');
      // The next good session clears the error.
      await s.change({ result: s.good });
      await waitFor(() => s.updates.values.slice(seen).find((u) => u.lastRefreshError === null), 'the error to clear');
    }
    assert.match(readLog(s.fo), /refused the login/);
    const status = await cli(s.fo, ['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(s.daemon.proc.exitCode, null);
    assert.deepEqual(readdirSync(s.fo.codexHome).filter((name) => name.includes('corrupt')), []);
  });
});

describe('a follower and an upstream that floods it', () => {
  /** Announces a change `times` times, each once the follower has asked for the session after the last. */
  async function announce(s: Scene, times: number): Promise<void> {
    for (let i = 0; i < times; i++) await s.change(s.answer);
  }

  it('refuses a session of 500 kB of invalid UTF-8, every time: no 1.5 MB auth.json, no copies kept aside, auth.json unchanged', async () => {
    const s = await scene();
    const before = readJsonOrNull(s.fo);
    const junk = Buffer.alloc(500_000, 0xff);
    const { accessToken: _, ...rest } = s.good;
    const json = JSON.stringify(rest);
    const raw = Buffer.concat([Buffer.from(`${json.slice(0, -1)},"accessToken":"`), junk, Buffer.from('"}')]);
    s.answer = { rawResult: raw };
    await announce(s, 15);
    const status = await s.foClient.read();
    assert.match(status.lastRefreshError ?? '', /refused the login .*: accessToken is longer than|refused the login .*: accessToken is not a JWT/);
    assert.deepEqual(readJsonOrNull(s.fo), before, 'auth.json is the last good mirror');
    assert.deepEqual(readdirSync(s.fo.codexHome).filter((name) => name.includes('corrupt')), [], 'nothing kept aside');
    assert.equal(s.daemon.proc.exitCode, null);
  });

  it('cuts an upstream\'s 900 kB error message short, and logs a reason that repeats 100 times once, with a count', async () => {
    const s = await scene();
    const message = `the upstream is broken ${'z'.repeat(900_000)}`;
    s.answer = { error: { code: -32603, message } };
    await announce(s, 100);
    const status = await s.foClient.read();
    assert.match(status.lastRefreshError ?? '', /answered: the upstream is broken z+… \(\d+ characters in all\)$/);
    assert.ok(status.lastRefreshError!.length < 500, `a short reason: ${status.lastRefreshError!.length} characters`);
    const token = await cli(s.fo, ['status']);
    assert.ok(token.stdout.length < 2000, `status stays short: ${token.stdout.length} characters`);
    // A good session ends the failure.
    await s.change({ result: s.good });
    await waitFor(async () => (await s.foClient.read()).lastRefreshError === null, 'the failure to end');
    const log = readLog(s.fo);
    assert.ok(log.length < 50_000, `the log stays small: ${log.length} bytes`);
    const said = log
      .split('\n')
      .filter((line) => line.includes('the upstream is broken'))
      .map((line) => (JSON.parse(line) as { msg: string }).msg.replace(/^.*answered: the upstream is broken z{177}… \(\d+ characters in all\)/, 'REASON'));
    // Logged once, then counted: at 10 and 100 repeats, and in all when it ended (unless that was the 100th).
    assert.deepEqual(said.slice(0, 3), ['REASON', 'REASON (10 times in a row so far)', 'REASON (100 times in a row so far)']);
    assert.ok(said.length === 3 || (said.length === 4 && /^REASON \(\d{3} times in a row in all\)$/.test(said[3]!)), said.join('\n'));
  });
});
