// `codex-auth app-server` (issue 23) around a stand-in app-server (support/stand-in-app-server.ts):
// the relay, the arguments, the login it injects and takes back, the refresh answers, and the
// lifecycle (stdin closed, the app-server's death, signals, codexd going away and back, failures).
// The real Codex app-server is driven in test/interop/app-server.test.ts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startHost, type Host } from './app-server-support.js';
import { root, rssKiB, waitFor, type Daemon } from './helpers.js';
import { scene, type Scene } from './refresh-support.js';

/** An executable that runs the stand-in, given to the bridge with --codex. */
function standIn(s: Scene): string {
  const file = join(s.box.dir, 'stand-in-codex');
  writeFileSync(file, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(root, 'dist', 'support', 'stand-in-app-server.js'))} "$@"\n`);
  chmodSync(file, 0o700);
  return file;
}

/** The `test/got` notifications: what the stand-in was sent by the bridge itself. */
function got(host: Host, method: string): Record<string, unknown>[] {
  return host.received.filter((m) => m.method === 'test/got' && m.params!['method'] === method).map((m) => (m.params!['params'] ?? {}) as Record<string, unknown>);
}

async function loggedIn(t: TestContext): Promise<{ s: Scene; daemon: Daemon; accessToken: string }> {
  const s = await scene(t);
  s.writeFixture();
  const daemon = await s.start();
  const token = await (await s.client()).token();
  assert.equal(token.type, 'chatgpt');
  return { s, daemon, accessToken: token.accessToken };
}

/** Only the bridge's own lines on stderr (the stand-in writes none). */
function bridgeLines(host: Host): string[] {
  return host.stderr().split('\n').filter((line) => line !== '');
}

test('relays every other line unchanged, passes ARGS after --, logs in after the handshake and before the host\'s next request', async (t) => {
  const { s, accessToken } = await loggedIn(t);
  const host = startHost(s.box, ['--codex', standIn(s), '--', '--listen', 'stdio://']);
  const init = await host.request('initialize', { clientInfo: { name: 'host', version: '1' }, capabilities: { experimentalApi: false, optOutNotificationMethods: ['x'] } });
  const result = init.result as { argv: string[]; params: { capabilities: Record<string, unknown> } };
  assert.deepEqual(result.argv, ['-c', 'cli_auth_credentials_store="ephemeral"', 'app-server', '--listen', 'stdio://']);
  assert.deepEqual(result.params.capabilities, { experimentalApi: true, optOutNotificationMethods: ['x'] }, 'experimentalApi on, the rest as sent');
  host.notify('initialized');
  const odd = { id: 'h-1', method: 'thread/list', params: { text: 'naïve ☃ "account/login/start" \\n', n: [1, 2.5, null] } };
  host.child.stdin!.write(`${JSON.stringify(odd)}\n`);
  const echoed = await waitFor(() => host.received.find((m) => m.id === 'h-1'), 'the echo');
  assert.deepEqual(echoed, odd);
  const logins = got(host, 'account/login/start');
  assert.deepEqual(logins, [{ type: 'chatgptAuthTokens', accessToken, chatgptAccountId: 'acct_fake_123', chatgptPlanType: null }]);
  const at = (predicate: (m: (typeof host.received)[number]) => boolean): number => host.received.findIndex(predicate);
  assert.ok(at((m) => m.method === 'test/got') < at((m) => m.id === 'h-1'), 'the login went in before the host\'s next request');
  assert.ok(!host.received.some((m) => m.method === 'account/login/completed'), 'the bridge\'s own login is not the host\'s business');
  host.child.stdin!.end();
  assert.equal((await host.exited).code, 0);
  assert.deepEqual(bridgeLines(host), ['codex-auth app-server: turned on capabilities.experimentalApi in initialize: Codex takes codexd\'s tokens only with it']);
});

test('answers Codex\'s refresh request itself: the same token again only after a forced refresh, never forwarded to the host', async (t) => {
  const { s, accessToken } = await loggedIn(t);
  const host = startHost(s.box, ['--codex', standIn(s)]);
  await host.handshake({ experimentalApi: true });
  await waitFor(() => got(host, 'account/login/start').length === 1, 'the first login');
  host.notify('test/askRefresh');
  const answer = (await host.next('test/refreshAnswered')).params!['result'] as { accessToken: string; chatgptAccountId: string };
  assert.notEqual(answer.accessToken, accessToken, 'Codex rejected codexd\'s current token: codexd refreshed');
  assert.equal(answer.chatgptAccountId, 'acct_fake_123');
  assert.equal(s.issuer.count('/oauth/token', 'refresh_token'), 1);
  assert.ok(!host.received.some((m) => m.method === 'account/chatgptAuthTokens/refresh'));
  // The token Codex now holds is codexd's current one: rejected again, it is refreshed by force, and
  // a forced refresh within 10 s of the last grant gets that grant's token (docs/protocol.md, "Forced refreshes").
  host.notify('test/askRefresh');
  const again = await waitFor(() => host.received.filter((m) => m.method === 'test/refreshAnswered')[1], 'the second answer');
  assert.equal((again.params!['result'] as { accessToken: string }).accessToken, answer.accessToken);
  assert.equal(s.issuer.count('/oauth/token', 'refresh_token'), 1);
  host.child.stdin!.end();
  assert.equal((await host.exited).code, 0);
});

test('a new codexd token is pushed to the app-server; codexd going away does not end the session, and its return is picked up', async (t) => {
  const { s, daemon } = await loggedIn(t);
  const host = startHost(s.box, ['--codex', standIn(s)], { CODEXD_NO_AUTOSTART: '1' });
  await host.handshake();
  await waitFor(() => got(host, 'account/login/start').length === 1, 'the first login');
  const c = await s.client();
  const refreshed = await c.token({ forceRefresh: true });
  assert.equal(refreshed.type, 'chatgpt');
  await waitFor(() => got(host, 'account/login/start').some((p) => p['accessToken'] === refreshed.accessToken), 'the refreshed token to reach the app-server');

  await daemon.stop();
  await waitFor(() => /codexd went away/.test(host.stderr()), 'the bridge to notice');
  host.child.stdin!.write(`${JSON.stringify({ id: 'h-2', method: 'thread/list', params: { n: 1 } })}\n`);
  await waitFor(() => host.received.find((m) => m.id === 'h-2'), 'the relay to go on without codexd');
  await s.start();
  const again = await (await s.client()).token({ forceRefresh: true });
  assert.equal(again.type, 'chatgpt');
  await waitFor(() => got(host, 'account/login/start').some((p) => p['accessToken'] === again.accessToken), 'the token of the daemon that came back', 15_000);
  host.child.stdin!.end();
  assert.equal((await host.exited).code, 0);
});

test('the bridge exits with the app-server\'s status, and passes SIGTERM on', async (t) => {
  const { s } = await loggedIn(t);
  const dies = startHost(s.box, ['--codex', standIn(s)]);
  await dies.handshake();
  dies.notify('test/exit', { code: 7 });
  assert.equal((await dies.exited).code, 7);

  const signalled = startHost(s.box, ['--codex', standIn(s)]);
  await signalled.handshake();
  signalled.child.kill('SIGTERM');
  assert.equal((await signalled.exited).code, 42, 'the stand-in got SIGTERM and its status came back');
});

test('no login in codexd: one line, no login injected; the host\'s API-key sign-in goes to codexd and then in', async (t) => {
  const s = await scene(t);
  await s.start();
  const host = startHost(s.box, ['--codex', standIn(s)]);
  await host.handshake();
  await waitFor(() => bridgeLines(host).some((line) => line.includes('codexd has no login to give Codex')), 'the one line');
  assert.equal(got(host, 'account/login/start').length, 0);
  const key = 'sk-proj-bridge-test-0123456789abcdef';
  const reply = await host.request('account/login/start', { type: 'apiKey', apiKey: key });
  assert.deepEqual(reply.result, { type: 'apiKey' });
  assert.deepEqual(got(host, 'account/login/start'), [{ type: 'apiKey', apiKey: key }], 'the app-server got the key from codexd');
  const c = await s.client();
  assert.deepEqual(await c.token(), { type: 'apiKey', apiKey: key }, 'codexd holds it');
  host.child.stdin!.end();
  assert.equal((await host.exited).code, 0);
});

test('failures are one line on stderr and nothing on stdout: no Codex, no codexd, no such account', async (t) => {
  const { s } = await loggedIn(t);
  const missing = startHost(s.box, ['--codex', join(s.box.dir, 'no-such-codex')]);
  assert.equal((await missing.exited).code, 1);
  assert.match(missing.stderr(), /^codex-auth app-server: cannot run .*no-such-codex app-server: not found; install Codex .* --codex\n$/);
  assert.equal(missing.received.length, 0);

  const unknown = startHost(s.box, ['--codex', standIn(s), '--account', 'nobody']);
  assert.equal((await unknown.exited).code, 1);
  assert.equal(bridgeLines(unknown).length, 1, unknown.stderr());
  assert.match(unknown.stderr(), /nobody/);

  const away = startHost(s.box, ['--codex', standIn(s), '--no-autostart', '--socket', join(s.box.dir, 'run', 'none.sock')]);
  assert.equal((await away.exited).code, 2);
  assert.equal(bridgeLines(away).length, 1, away.stderr());
  assert.equal(away.received.length, 0);
});

test('an app-server that never answers the login: one line after the time limit, the host\'s held request goes through, and closing stdin still ends the bridge', async (t) => {
  const { s } = await loggedIn(t);
  const host = startHost(s.box, ['--codex', standIn(s)], { STAND_IN_SILENT_LOGIN: '1', CODEXD_BRIDGE_ANSWER_MS: '1000' });
  await host.handshake();
  host.notify('thread/list', { held: true });
  await waitFor(() => host.received.find((m) => m.method === 'thread/list'), 'the held line to reach the app-server and come back');
  assert.deepEqual(bridgeLines(host).slice(1), ['codex-auth app-server: Codex did not take codexd\'s token: it did not answer within 1 s']);
  host.child.stdin!.end();
  assert.equal((await host.exited).code, 0);
});

/** 64 MiB in lines of 32 KiB: far more than the pipes and the bridge's stream buffers hold (a few hundred KiB). */
const FLOOD = { lines: 2048, size: 32 * 1024 };
/** What the bridge may grow by while one side does not read: half the flood. */
const HELD_BACK_KIB = 32 * 1024;
/** How long the held-back side gets to get through anyway: unbounded, the bridge took the whole flood within a second. */
const HELD_BACK_MS = 3000;

async function flooding(t: TestContext): Promise<{ host: Host; standInPid: number; before: number }> {
  const { s } = await loggedIn(t);
  const host = startHost(s.box, ['--codex', standIn(s)]);
  const init = await host.handshake({ experimentalApi: true });
  await waitFor(() => got(host, 'account/login/start').length === 1, 'the first login');
  return { host, standInPid: (init.result as { pid: number }).pid, before: rssKiB(host.child.pid!) };
}

test('an editor that stops reading holds the app-server back through the bridge, which does not keep what it could not write; every line arrives once the editor reads again', async (t) => {
  const { host, before } = await flooding(t);
  host.child.stdout!.pause();
  host.notify('test/flood', FLOOD);
  const pid = host.child.pid!;
  await assert.rejects(
    waitFor(() => rssKiB(pid) > before + HELD_BACK_KIB, 'the bridge to hold what the editor did not read', HELD_BACK_MS),
    /timed out/,
    `the bridge read ahead of the editor: ${rssKiB(pid) - before} KiB more than before`,
  );
  host.child.stdout!.resume();
  await host.next('test/flooded', undefined, 60_000);
  const chunks = host.received.filter((m) => m.method === 'test/chunk').map((m) => m.params as { i: number; pad: string });
  assert.equal(chunks.length, FLOOD.lines);
  assert.ok(chunks.every((chunk, i) => chunk.i === i && chunk.pad.length === FLOOD.size), 'every line, whole and in order');
  host.child.stdin!.end();
  assert.equal((await host.exited).code, 0);
});

test('an app-server that stops reading holds the editor back through the bridge in the same way; every line arrives once it reads again', async (t) => {
  const { host, standInPid, before } = await flooding(t);
  host.notify('test/stopReading');
  const line = `${JSON.stringify({ method: 'test/echo', params: { pad: 'y'.repeat(FLOOD.size) } })}\n`;
  let written = 0;
  void (async () => {
    for (; written < FLOOD.lines; written++) if (!host.child.stdin!.write(line)) await once(host.child.stdin!, 'drain');
  })();
  const pid = host.child.pid!;
  await assert.rejects(
    waitFor(() => written === FLOOD.lines || rssKiB(pid) > before + HELD_BACK_KIB, 'the bridge to take what the app-server did not read', HELD_BACK_MS),
    /timed out/,
    `the bridge read ahead of the app-server: ${written} of ${FLOOD.lines} lines taken, ${rssKiB(pid) - before} KiB more than before`,
  );
  process.kill(standInPid, 'SIGUSR2');
  await waitFor(() => written === FLOOD.lines, 'the bridge to take every line once the app-server reads again', 60_000);
  await waitFor(() => host.received.filter((m) => m.method === 'test/echo').length === FLOOD.lines, 'every line echoed by the app-server', 60_000);
  host.child.stdin!.end();
  assert.equal((await host.exited).code, 0);
});
