// Interop (issue 13, Codex's token command): Codex 0.169 runs `[model_providers.<id>.auth]
// command` to get a custom provider's bearer token. With `codex-auth token` as that command, the
// real `codex exec` sends codexd's token to the provider: a loopback endpoint that records the
// Authorization header. Codex gets its own CODEX_HOME with no auth.json, so the token can only
// have come from the command.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { cliBin, client, fileSandbox, startDaemon, stopDaemons, type Daemon } from '../helpers.js';
import { codexEnv, ensureCodex, runCodex, startFakeBackend, withoutTmpWarning } from './codex-cli.js';

const KEY = 'sk-proj-interop-token-command-0123456789abcdef';
const daemons: Daemon[] = [];
stopDaemons(daemons);

before(() => {
  ensureCodex();
});

/** A TOML string (JSON's escapes are TOML's for these paths). */
const toml = (value: string): string => JSON.stringify(value);

test('codex exec sends the token `codex-auth token` prints, as a custom provider\'s bearer token', async (t) => {
  const b = fileSandbox();
  daemons.push(await startDaemon(b));
  const c = await client(b);
  await c.loginStart({ type: 'apiKey', apiKey: KEY });
  await c.close();

  const backend = await startFakeBackend();
  t.after(() => backend.close());
  const codexHome = join(b.dir, 'codex-home');
  mkdirSync(codexHome, { mode: 0o700 });
  writeFileSync(
    join(codexHome, 'config.toml'),
    [
      'check_for_update_on_startup = false',
      'approval_policy = "never"',
      'sandbox_mode = "read-only"',
      'model_provider = "codexd"',
      '',
      '[model_providers.codexd]',
      'name = "codexd interop"',
      `base_url = ${toml(`${backend.url}/v1`)}`,
      'wire_api = "responses"',
      'requires_openai_auth = false',
      'request_max_retries = 0',
      'stream_max_retries = 0',
      '',
      '[model_providers.codexd.auth]',
      // What the README's example says, with this checkout's codex-auth, told which codexd to ask.
      `command = ${toml('/usr/bin/env')}`,
      `args = [${[`CODEX_HOME=${b.codexHome}`, process.execPath, cliBin, 'token'].map(toml).join(', ')}]`,
      'timeout_ms = 10000',
      'refresh_interval_ms = 300000',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );

  const result = await runCodex(['exec', '--skip-git-repo-check', 'hi'], codexEnv(b, { CODEX_HOME: codexHome }), { timeoutMs: 60_000 });
  t.diagnostic(`codex exec exited ${result.code}; ${backend.requests.length} requests: ${backend.requests.map((r) => `${r.method} ${r.url}`).join(', ')}`);
  assert.ok(backend.requests.some((r) => r.url.startsWith('/v1/')), `Codex called the provider: ${withoutTmpWarning(result.stderr).slice(0, 500)}`);
  assert.deepEqual(backend.bearerTokens(), [KEY], 'every request carried the token codex-auth printed');
});
