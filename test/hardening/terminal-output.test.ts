// Strings codexd did not write (claims in auth.json, an issuer's user code and error_description)
// reach the terminal without their control characters: an email claim holding OSC/CSI sequences
// must not retitle or clear the terminal of whoever runs `codex-auth status`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cli } from '../helpers.js';
import { fixture, writeAtomically } from '../refresh-support.js';
import { suite } from './support.js';

const s = suite('hostile strings on the terminal');

/** Retitle (OSC 0), clear the screen and home the cursor (CSI, 7-bit and 8-bit), DCS … ST. */
const HOSTILE = '\u001b]0;pwned\u0007\u001b[2J\u001b[H\u009b2J\u0090q\u009c\u007f';
/** Anything but a line break that a terminal would act on. */
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

function assertClean(where: string, text: string): void {
  assert.doesNotMatch(text, CONTROL, `${where} holds a control character: ${JSON.stringify(text)}`);
}

describe('hostile strings on the terminal', () => {
  it('an email and plan claim with escape sequences: status, login status and status --json print none of them', async () => {
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url });
    const account = { ...issuer.account, email: `evil${HOSTILE}@example.com`, planType: `pro${HOSTILE}` };
    writeAtomically(box.codexHome, fixture(issuer.mintTokens({ account }), account).raw);
    await s.daemon(box);

    for (const args of [['status'], ['login', 'status']]) {
      const result = await cli(box, args);
      assert.equal(result.code, 0, result.stderr);
      assertClean(args.join(' '), result.stdout + result.stderr);
      assert.match(result.stdout, /Logged in using ChatGPT as evil\]0;pwned\[2J\[H2Jq@example\.com\b/);
    }
    const json = await cli(box, ['status', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assertClean('status --json', json.stdout);
    assert.equal(JSON.parse(json.stdout).account.email, account.email, 'JSON keeps the value, escaped');
  });

  it("an issuer's user code and error_description: login --device-auth prints neither's control characters", async () => {
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url });
    await s.daemon(box);
    issuer.script('/api/accounts/deviceauth/usercode', { body: { device_auth_id: 'dev-auth-hostile', user_code: `AB${HOSTILE}CD`, interval: '0' } });
    issuer.script('/api/accounts/deviceauth/token', { body: { authorization_code: 'code-hostile-123', code_verifier: 'verifier-hostile-123' } });
    issuer.script('/oauth/token', { status: 400, body: { error: 'invalid_grant', error_description: `denied${HOSTILE}here` } });

    const result = await cli(box, ['login', '--device-auth', '--no-autostart'], { timeoutMs: 30_000 });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assertClean('login --device-auth', result.stdout.replace(/\u001b\[1m|\u001b\[0m/g, '') + result.stderr);
    assert.match(result.stdout, /AB\]0;pwned\[2J\[H2JqCD/);
    assert.match(result.stderr, /^codex-auth: Login failed: .*denied\]0;pwned\[2J\[H2Jqhere/m);
  });
});
