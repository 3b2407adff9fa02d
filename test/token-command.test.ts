// `codex-auth token` as Codex's token command (`[model_providers.<id>.auth] command`, README
// "Codex's token command"): on success exactly the token and one newline on stdout and nothing on
// stderr; on failure nothing on stdout, one line on stderr and a non-zero exit status.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli, type CliResult } from './helpers.js';
import { revokeOutside, scene } from './refresh-support.js';

function failedInOneLine(run: CliResult, code: number, says: RegExp): void {
  assert.equal(run.code, code, run.stderr);
  assert.equal(run.stdout, '', 'nothing Codex could take for a token');
  assert.equal(run.stderr.split('\n').length, 2, `one line: ${JSON.stringify(run.stderr)}`);
  assert.match(run.stderr, says);
}

describe('codex-auth token, the command Codex runs for a bearer token', () => {
  it('prints the ChatGPT access token, then the API key, and a newline, and nothing else', async (t) => {
    const s = await scene(t);
    const login = s.writeFixture();
    await s.start();
    assert.deepEqual(await cli(s.box, ['token']), { code: 0, stdout: `${login.tokens.access_token}\n`, stderr: '' });
    await (await s.client()).loginStart({ type: 'apiKey', apiKey: 'sk-token-command-0123456789' });
    assert.deepEqual(await cli(s.box, ['token']), { code: 0, stdout: 'sk-token-command-0123456789\n', stderr: '' });
  });

  it('fails in one line on stderr: no daemon to ask (2), a new sign-in needed (1), logged out (1)', async (t) => {
    const s = await scene(t);
    failedInOneLine(await cli(s.box, ['token', '--no-autostart']), 2, /^codex-auth: codexd is not running on /);

    const login = s.writeFixture({ accessExpiresInS: 30 }); // due, and its refresh will be refused
    await revokeOutside(s.issuer, login.tokens.refresh_token);
    await s.start();
    failedInOneLine(await cli(s.box, ['token']), 1, /^codex-auth: Your access token could not be refreshed/);

    await (await s.client()).logout();
    failedInOneLine(await cli(s.box, ['token']), 1, /^codex-auth: Not logged in/);
  });
});
