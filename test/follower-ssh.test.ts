// A follower at the end of a real `ssh -N -R` (issue 13): the laptop's codexd (the test's user,
// root) has its restricted socket forwarded by a real ssh client through a real sshd on 127.0.0.1
// to a second local user, the "remote machine", whose first codex-auth command autostarts a
// follower on the forwarded socket. Root only; skipped elsewhere with the reason.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Status } from '../client/index.js';
import { defaultRestrictedSocketPath, FOLLOWER_REFRESH_TOKEN } from '../shared/paths.js';
import { startFakeIssuer, type FakeIssuer } from '../support/fake-issuer.js';
import { canConnect, cli, client, fileSandbox, readAuth, startDaemon, waitFor, type Sandbox } from './helpers.js';
import { codexAuthJson, codexTimestamp, expMs, readJson, writeAtomically } from './refresh-support.js';
import { remoteUser, sshProblem, startLink, startSshd } from './ssh-support.js';

const problem = sshProblem();

let issuer: FakeIssuer;
/** The remote side's own issuer setting: any request the follower sent would show up here. */
let remoteIssuer: FakeIssuer;

before(async () => {
  issuer = await startFakeIssuer();
  remoteIssuer = await startFakeIssuer();
});

after(async () => {
  await issuer.close();
  await remoteIssuer.close();
});

/** `codex-auth status --json` on the remote side. */
async function remoteStatus(box: Sandbox): Promise<Status> {
  const result = await cli(box, ['status', '--json']);
  return JSON.parse(result.stdout) as Status;
}

function remoteAuth(box: Sandbox): ReturnType<typeof readJson> | null {
  try {
    return readJson(join(box.codexHome, 'auth.json'));
  } catch {
    return null;
  }
}

describe('a follower over a real ssh -R link', { skip: problem ?? false }, () => {
  it('follows refreshes within 2 s, refuses login and logout, rides out a killed link until the token expires, and recovers', async () => {
    // The laptop: a codexd holding a login; it refreshes only at `exp` (margin 0), so a short token stays short.
    const laptop = fileSandbox({ CODEXD_ISSUER: issuer.url, CODEXD_REFRESH_MARGIN_S: '0' });
    writeAtomically(laptop.codexHome, codexAuthJson(issuer.mintTokens({ accessExpiresInS: 3600 }), issuer.account.accountId, codexTimestamp(Date.now())));
    await startDaemon(laptop);
    const laptopClient = await client(laptop);
    after(() => laptopClient.close());

    const restricted = defaultRestrictedSocketPath(laptop.socket);

    const remote = remoteUser({ CODEXD_ISSUER: remoteIssuer.url });
    const sshd = await startSshd(remote);
    let link = await startLink(sshd, remote, restricted);

    // The remote user's first command autostarts a follower: upstream.sock is there, and no login.
    const first = await cli(remote.box, ['status']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^Logged in using ChatGPT as dev@example\.com \(pro\)$/m);
    assert.match(first.stdout, new RegExp(`^  upstream: +connected since .*, ${remote.upstreamSocket.replace(/[.]/g, '\\.')}$`, 'm'));
    const laptopLogin = readJson(join(laptop.codexHome, 'auth.json'));
    const mirror = await waitFor(() => remoteAuth(remote.box), 'the remote auth.json');
    assert.deepEqual(mirror, { ...laptopLogin, tokens: { ...laptopLogin.tokens, refresh_token: FOLLOWER_REFRESH_TOKEN } });

    // The laptop refreshes: the remote auth.json has the new token within 2 s.
    const refreshed = await laptopClient.token({ forceRefresh: true });
    const refreshedAt = Date.now();
    const newToken = (refreshed as { accessToken: string }).accessToken;
    await waitFor(() => remoteAuth(remote.box)?.tokens.access_token === newToken, 'the new token on the remote side', 10_000);
    const tookMs = Date.now() - refreshedAt;
    assert.ok(tookMs < 2000, `the remote auth.json had the new token ${tookMs} ms after the refresh`);
    const token = await cli(remote.box, ['token']);
    assert.equal(token.stdout.trim(), newToken);

    // Logging in or out on the remote side is refused, naming the upstream; the laptop's login is unchanged.
    const laptopFile = readAuth(laptop);
    const logout = await cli(remote.box, ['logout']);
    assert.equal(logout.code, 1);
    assert.match(logout.stderr, /^codex-auth: The login lives on the upstream machine \(the upstream codexd on .*upstream\.sock.*\): run `codex-auth logout` there\.\n$/);
    const login = await cli(remote.box, ['login', '--with-api-key'], { input: 'sk-remote-must-not-store-this' });
    assert.equal(login.code, 1);
    assert.match(login.stderr, /run `codex-auth login` there/);
    // Straight to the forwarded socket: its restricted socket refuses logins, logouts and shutdown.
    // (CODEXD_ISSUER unset: the laptop's issuer is not the remote side's, and would be refused first.)
    const direct = { env: { CODEXD_ISSUER: '' } };
    for (const args of [['logout'], ['login', '--with-api-key'], ['daemon', 'stop']]) {
      const refused = await cli(remote.box, ['--socket', remote.upstreamSocket, ...args], { ...direct, input: 'sk-remote-must-not-store-this' });
      assert.equal(refused.code, 1, `${args.join(' ')}: ${refused.stderr}`);
      assert.equal(refused.stderr, `codex-auth: this socket only lends tokens: it is forwarded from the machine that holds the login; run \`codex-auth ${args[0] === 'daemon' ? 'daemon stop' : args[0]}\` there\n`, args.join(' '));
    }
    assert.equal(readAuth(laptop), laptopFile);
    assert.ok(await canConnect(laptop.socket), 'the laptop\'s codexd still runs');

    // A token that expires soon reaches the remote side; then the link is killed before the laptop refreshes it.
    // (Written as Codex would: a forced refresh this soon after the last one would get that one's token.)
    const short = issuer.mintTokens({ accessExpiresInS: 8 });
    writeAtomically(laptop.codexHome, codexAuthJson(short, issuer.account.accountId, codexTimestamp(Date.now())));
    const shortLived = { accessToken: short.access_token, expiresAt: new Date(expMs(short.access_token)).toISOString() };
    await waitFor(() => remoteAuth(remote.box)?.tokens.access_token === shortLived.accessToken, 'the short-lived token on the remote side', 10_000);
    await link.kill();
    const down = await waitFor(async () => {
      const s = await remoteStatus(remote.box);
      return s.upstream?.state === 'disconnected' ? s : null;
    }, 'the follower to notice the link is gone', 10_000, 200);
    assert.equal(down.upstream?.path, remote.upstreamSocket);
    const served = await cli(remote.box, ['token']);
    // Served while the link is down; refused only once the token has expired (a loaded machine may answer that late).
    if (served.code === 0) assert.equal(served.stdout.trim(), shortLived.accessToken, 'served while the link is down');
    else assert.ok(Date.now() >= Date.parse(shortLived.expiresAt), `refused before the token expired: ${served.stderr}`);
    const expired = await waitFor(async () => {
      const s = await remoteStatus(remote.box);
      return s.state === 'reauthRequired' ? s : null;
    }, 'the token to expire on the remote side', 20_000, 500);
    assert.match(expired.reauthReason ?? '', /^the link to the upstream codexd on .*upstream\.sock.* is down since \S+Z( \(.*\))?, and the access token expired at \S+Z$/);
    const refused = await cli(remote.box, ['token']);
    assert.equal(refused.code, 1);
    assert.equal(refused.stdout, '');

    // The link comes back: the follower reconnects and mirrors the laptop's current token.
    link = await startLink(sshd, remote, restricted);
    const back = await waitFor(async () => {
      const s = await remoteStatus(remote.box);
      return s.upstream?.state === 'connected' && s.state === 'ok' ? s : null;
    }, 'the follower to reconnect', 60_000, 500);
    assert.ok(Date.parse(back.accessTokenExpiresAt!) > Date.now() + 30 * 60_000, 'the laptop\'s fresh token');
    const current = readJson(join(laptop.codexHome, 'auth.json')).tokens.access_token;
    assert.equal((await cli(remote.box, ['token'])).stdout.trim(), current);
    assert.equal(remoteAuth(remote.box)?.tokens.access_token, current);
    assert.deepEqual(remoteIssuer.requests, [], 'the follower sent nothing to an issuer');
    await link.kill();
  });

  it('reconnects within the retry ceiling however the link fails: the laptop asleep (never answering), its codexd stopped while ssh stays up (closed right after accept), and restarted', async () => {
    const laptop = fileSandbox({ CODEXD_ISSUER: issuer.url });
    writeAtomically(laptop.codexHome, codexAuthJson(issuer.mintTokens({ accessExpiresInS: 3600 }), issuer.account.accountId, codexTimestamp(Date.now())));
    let laptopDaemon = await startDaemon(laptop);
    const restricted = defaultRestrictedSocketPath(laptop.socket);
    const remote = remoteUser({ CODEXD_ISSUER: remoteIssuer.url, CODEXD_UPSTREAM_TIMEOUT_MS: '1000', CODEXD_UPSTREAM_RETRY_MAX_MS: '2000' });
    const sshd = await startSshd(remote);
    const link = await startLink(sshd, remote, restricted);
    after(() => link.kill());
    const upstreamState = async (state: 'connected' | 'disconnected', what: string): Promise<Status> =>
      waitFor(async () => {
        const s = await remoteStatus(remote.box);
        return s.upstream?.state === state ? s : null;
      }, what, 15_000, 200);
    await upstreamState('connected', 'the follower to connect');
    const laptopToken = (): string => readJson(join(laptop.codexHome, 'auth.json')).tokens.access_token;

    // The laptop falls asleep: ssh and sshd stay up, nothing answers. The follower's heartbeat finds out.
    const sleeping = laptopDaemon;
    process.kill(sleeping.pid, 'SIGSTOP');
    after(() => {
      if (sleeping.proc.exitCode === null && sleeping.proc.signalCode === null) process.kill(sleeping.pid, 'SIGCONT');
    });
    await upstreamState('disconnected', 'the follower to take the sleeping laptop for down');
    const asleep = await cli(remote.box, ['token'], { timeoutMs: 5000 });
    assert.deepEqual(asleep, { code: 0, stdout: `${laptopToken()}\n`, stderr: '' }, 'the last token, at once');
    process.kill(sleeping.pid, 'SIGCONT');
    await upstreamState('connected', 'the follower to reconnect once the laptop wakes up');

    // The laptop's codexd stops; ssh stays up, so sshd accepts each connection and closes it at once.
    assert.equal((await cli(laptop, ['daemon', 'stop'])).code, 0);
    const stopped = await upstreamState('disconnected', 'the follower to notice the laptop\'s codexd stopped');
    assert.match(stopped.reauthReason ?? '', /^$|is down since/);
    // It starts again (with a new login): the follower is back within the retry ceiling and mirrors it.
    writeAtomically(laptop.codexHome, codexAuthJson(issuer.mintTokens({ accessExpiresInS: 3600 }), issuer.account.accountId, codexTimestamp(Date.now())));
    laptopDaemon = await startDaemon(laptop);
    await waitFor(async () => (await remoteStatus(remote.box)).upstream?.state === 'connected' && remoteAuth(remote.box)?.tokens.access_token === laptopToken(), 'the follower to reconnect and mirror the new login', 15_000, 200);
    assert.equal((await cli(remote.box, ['token'])).stdout.trim(), laptopToken());
    await laptopDaemon.stop();
  });
});
