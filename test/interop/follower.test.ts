// Interop (issue 13): the real Codex CLI 0.169.0 beside a follower. `codex login status` reads the
// mirror, on the same machine and at the end of a real `ssh -N -R`; `codex exec` sends the
// mirrored token and makes no refresh request while the upstream rotates tokens; and `codex
// logout` beside a follower revokes only the refresh-token marker, never the upstream's login.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import { defaultRestrictedSocketPath, FOLLOWER_REFRESH_TOKEN } from '../../shared/paths.js';
import { startFakeIssuer, type FakeIssuer } from '../../support/fake-issuer.js';
import { cli, client, fileSandbox, hasAuth, startDaemon, waitFor, type Sandbox } from '../helpers.js';
import { codexAuthJson, codexTimestamp, readJson, refreshRequests, writeAtomically } from '../refresh-support.js';
import { remoteUser, sshProblem, startLink, startSshd } from '../ssh-support.js';
import { codexEnv, ensureCodex, runCodex, startCodex, startFakeBackend, withoutTmpWarning, writeCodexConfig, type FakeBackend } from './codex-cli.js';

/** Token rotations at the upstream while `codex exec` runs beside the follower, one a second. */
const ROTATIONS = 4;

let issuer: FakeIssuer;
let backend: FakeBackend;

before(async () => {
  ensureCodex();
  issuer = await startFakeIssuer();
  backend = await startFakeBackend();
});

after(async () => {
  await issuer.close();
  await backend.close();
});

/** The laptop's side: a codexd holding a ChatGPT login from the fake issuer. */
async function upstream(): Promise<Sandbox> {
  const up = fileSandbox({ CODEXD_ISSUER: issuer.url });
  writeAtomically(up.codexHome, codexAuthJson(issuer.mintTokens({ accessExpiresInS: 3600 }), issuer.account.accountId, codexTimestamp(Date.now())));
  await startDaemon(up);
  return up;
}

/** Codex pointed at the fake issuer, so a refresh or a revocation it sent would be seen there. */
function codexIssuerEnv(b: Sandbox): NodeJS.ProcessEnv {
  return codexEnv(b, { CODEX_REFRESH_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/token`, CODEX_REVOKE_TOKEN_URL_OVERRIDE: `${issuer.url}/oauth/revoke` });
}

function mirroredToken(b: Sandbox): string | null {
  return hasAuth(b) ? readJson(join(b.codexHome, 'auth.json')).tokens.access_token : null;
}

async function assertLoginStatus(t: TestContext, b: Sandbox, runAs?: { uid: number; gid: number }): Promise<void> {
  const status = await runCodex(['login', 'status'], codexIssuerEnv(b), { runAs });
  t.diagnostic(`codex login status (exit ${status.code}): ${JSON.stringify(withoutTmpWarning(status.stderr + status.stdout))}`);
  assert.equal(status.code, 0);
  assert.match(withoutTmpWarning(status.stderr + status.stdout), /^Logged in using ChatGPT$/m);
}

test('beside a follower, codex reads the mirror, codex exec never refreshes while tokens rotate upstream, and codex logout revokes only the marker', async (t) => {
  const up = await upstream();
  const upClient = await client(up);
  after(() => upClient.close());
  const fo = fileSandbox({ CODEXD_UPSTREAM: up.socket, CODEXD_ISSUER: issuer.url });
  writeCodexConfig(fo.codexHome, backend.url);
  await startDaemon(fo);
  const first = readJson(join(up.codexHome, 'auth.json')).tokens.access_token;
  await waitFor(() => mirroredToken(fo) === first, 'the mirror');
  await assertLoginStatus(t, fo);

  const baseline = refreshRequests(issuer).length;
  const backendSeen = backend.requests.length;
  const mirrored = new Set([first]);
  const codex = startCodex(['exec', '--skip-git-repo-check', 'hi'], codexIssuerEnv(fo));
  // The soak: Codex keeps running while the upstream rotates the tokens by its own schedule, every
  // 2 s (tokens of 602 s, refreshed 600 s before they expire); the first rotation is forced.
  issuer.accessTokenTtlS = 602;
  const sampler = setInterval(() => {
    const token = mirroredToken(fo);
    if (token !== null) mirrored.add(token);
  }, 20);
  try {
    await upClient.token({ forceRefresh: true });
    await waitFor(() => mirrored.size > ROTATIONS || null, 'the rotated tokens in the mirror', 30_000);
    const result = await codex.stop();
    t.diagnostic(`codex exec (signal ${result.signal}) made ${backend.requests.length - backendSeen} requests to the loopback backend`);
    clearInterval(sampler);

    const refreshes = refreshRequests(issuer).slice(baseline);
    assert.ok(refreshes.length >= ROTATIONS, 'the upstream\'s own refreshes');
    for (const r of refreshes) assert.match(r.headers['user-agent'] ?? '', /^codexd\//);
    assert.ok(!refreshes.some((r) => r.body['refresh_token'] === FOLLOWER_REFRESH_TOKEN), 'Codex never tried the marker');
    const bearers = new Set(backend.requests.slice(backendSeen).map((r) => r.authorization?.replace(/^Bearer /, '')).filter(Boolean));
    assert.ok(bearers.size > 0, 'codex exec called the backend');
    for (const bearer of bearers) assert.ok(mirrored.has(bearer!), 'Codex sent only tokens the follower mirrored');

    // `codex logout` beside the follower: what it revokes is the marker, not the upstream's access token.
    const revokedBefore = issuer.revoked.length;
    const logout = await runCodex(['logout'], codexIssuerEnv(fo));
    assert.equal(logout.code, 0);
    assert.deepEqual(issuer.revoked.slice(revokedBefore).map((r) => r.token), [FOLLOWER_REFRESH_TOKEN]);
    // The upstream's next rotation (its refresh token still works) is mirrored again.
    const seen = new Set(mirrored);
    await waitFor(() => {
      const token = mirroredToken(fo);
      return token !== null && !seen.has(token) ? token : null;
    }, 'the follower to write the mirror again', 15_000);
    assert.equal((await upClient.read()).state, 'ok', 'the upstream login survived');
  } finally {
    clearInterval(sampler);
    issuer.accessTokenTtlS = 3600;
  }
});

test('codex login status reads the mirror at the end of a real ssh -R link', { skip: sshProblem() ?? false }, async (t) => {
  const up = await upstream();
  const remote = remoteUser({ CODEXD_ISSUER: issuer.url }, (box) => writeCodexConfig(box.codexHome, backend.url));
  const sshd = await startSshd(remote);
  const link = await startLink(sshd, remote, defaultRestrictedSocketPath(up.socket));
  const status = await cli(remote.box, ['status']); // autostarts the follower on upstream.sock
  assert.equal(status.code, 0, status.stderr);
  const current = readJson(join(up.codexHome, 'auth.json')).tokens.access_token;
  await waitFor(() => mirroredToken(remote.box) === current, 'the mirror on the remote side');
  await assertLoginStatus(t, remote.box, remote.box.runAs);
  await link.kill();
});
