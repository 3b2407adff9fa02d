// Interop (issue 2): `printf KEY | codex login --with-api-key`, run by the real Codex CLI 0.169.0
// in codexd's CODEX_HOME while codexd runs, is picked up within 2 s: account/read, account/token,
// the account/updated notification and `codex-auth token` all report the new key.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Status } from '../../client/index.js';
import { cli, client, readAuth, recorder, sandbox, startDaemon, waitFor, type Sandbox } from '../helpers.js';
import { codexEnv, ensureCodex, runCodex, sampleAuthFile } from './codex-cli.js';

const FIRST = 'sk-proj-interop-outside-first-0123456789abcdef';
const SECOND = 'sk-proj-interop-outside-second-fedcba9876543210';
const PICKUP_MS = 2000;

const boxes: Sandbox[] = [];

before(() => {
  ensureCodex();
});

after(() => {
  for (const box of boxes) box.cleanup();
});

test('codexd reports a key stored by codex login --with-api-key within 2 s', async (t) => {
  const b = sandbox();
  boxes.push(b);
  const daemon = await startDaemon(b);
  const c = await client(b);
  const updates = recorder<Status>((listener) => c.onAccountUpdated(listener));
  const sampler = sampleAuthFile(b.codexHome);
  try {
    assert.equal((await c.read()).account, null, 'codexd starts logged out');

    // Logged out → API key, then API key → another API key: both written by Codex alone.
    for (const key of [FIRST, SECOND]) {
      const seen = updates.values.length;
      const codex = await runCodex(['login', '--with-api-key'], codexEnv(b), { input: key });
      assert.equal(codex.code, 0, codex.stderr);
      const tokenAt = await waitFor(
        async () => {
          // Until codexd notices, account/token answers with the old key or notLoggedIn.
          const token = await c.token().catch(() => null);
          return token?.type === 'apiKey' && token.apiKey === key ? Date.now() : null;
        },
        `account/token to return the key Codex stored`,
        PICKUP_MS,
      );
      t.diagnostic(`account/token returned the key Codex stored ${tokenAt - codex.endedAt} ms after codex login exited`);
      assert.ok(tokenAt - codex.endedAt <= PICKUP_MS);

      const status = await c.read();
      assert.deepEqual(status.account, { type: 'apiKey' });
      assert.equal(status.state, 'ok');
      const announced = await updates.next((s) => updates.values.indexOf(s) >= seen && s.account?.type === 'apiKey', PICKUP_MS);
      assert.equal(announced.state, 'ok');

      const printed = await cli(b, ['token']);
      assert.equal(printed.code, 0, printed.stderr);
      assert.equal(printed.stdout.trim(), key);
      assert.equal(readAuth(b), `{\n  "auth_mode": "apikey",\n  "OPENAI_API_KEY": "${key}"\n}`, 'codexd left the file as Codex wrote it');
    }
  } finally {
    const sampled = sampler.stop();
    t.diagnostic(`auth.json sampled ${sampled.samples} times while Codex and codexd shared it: ${sampled.failures.length} failed to parse`);
    assert.deepEqual(sampled.failures, []);
    await c.close();
    await daemon.stop();
  }
  JSON.parse(readAuth(b));
});
