// Timer values past 2^31 − 1 ms fire after 1 ms in Node. An issuer's device-code `interval` is
// clamped; every setting has a type and a range, and an out-of-range value stops codexd at start
// with one line naming the variable (or the config.json key) as the user set it. Every setting at
// its maximum still behaves: logins stay pending, a half-sent frame is not cut at once. When the
// timers fire is checked in-process, under mock timers (test/timers.test.ts); here, the daemon.
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { envName, SETTINGS } from '../../shared/settings.js';
import { canConnect, waitFor, type Sandbox } from '../helpers.js';
import { RawConnection, suite } from './support.js';

const s = suite('timer and setting ranges');

/** Starts codexd expecting it to refuse its settings: exit status and what it printed. */
async function refusedStart(box: Sandbox, env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }> {
  const daemon = await s.daemon(box, { env, waitReady: false });
  const { code } = await Promise.race([
    daemon.exited,
    waitFor(() => canConnect(box.socket), 'codexd to exit', 30_000).then(() => assert.fail(`codexd accepted the settings and started: ${JSON.stringify(env)}`)),
  ]);
  s.capture('codexd stderr', daemon.stderr());
  return { code, stderr: daemon.stderr() };
}

function writeConfig(box: Sandbox, settings: object): string {
  const dir = join(box.env['XDG_CONFIG_HOME']!, 'codexd');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(settings), { mode: 0o600 });
  return join(dir, 'config.json');
}

describe('timer and setting ranges', () => {
  it("an issuer's device-code interval of 3000000 s is clamped, not a poll every millisecond", async () => {
    const issuer = await s.issuer();
    issuer.script('/api/accounts/deviceauth/usercode', { body: { device_auth_id: 'dev_absurd_interval', user_code: 'ABCD-EFGH', interval: '3000000' } });
    issuer.script('/api/accounts/deviceauth/token', { status: 403, body: { error: 'authorization_pending' } }, 100_000);
    const box = s.box({ CODEXD_ISSUER: issuer.url });
    await s.daemon(box);
    const c = await s.client(box);
    const started = await c.loginStart({ type: 'chatgptDeviceCode' });
    assert.equal(started.type, 'chatgptDeviceCode');
    // Answered after the login started: a timer of 1 ms (the bug) would have polled by now.
    assert.notEqual((await c.read()).login, null, 'the login is still pending');
    assert.equal(issuer.count('/api/accounts/deviceauth/token'), 0, 'no device-code poll yet (the clamped interval is 60 s)');
  });

  const outOfRange: Array<[string, string, RegExp]> = [
    ['CODEXD_LOGIN_TIMEOUT_S', '2592000', /^codexd: CODEXD_LOGIN_TIMEOUT_S must be an integer from 1 to 86400, got "2592000"\n$/],
    ['CODEXD_FRAME_TIMEOUT_MS', '2147483648', /^codexd: CODEXD_FRAME_TIMEOUT_MS must be an integer from 0 to 3600000, got "2147483648"\n$/],
    ['CODEXD_LOGIN_PORT', 'abc', /^codexd: CODEXD_LOGIN_PORT must be an integer from 0 to 65535, got "abc"\n$/],
    ['CODEXD_TICK_S', '1e3', /^codexd: CODEXD_TICK_S must be an integer from 1 to 3600, got "1e3"\n$/],
    ['CODEXD_LOG_LEVEL', 'loud', /^codexd: CODEXD_LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"\n$/],
  ];
  for (const [variable, value, line] of outOfRange) {
    it(`${variable}=${value} is refused at start with one line naming ${variable}, exit 2`, async () => {
      const { code, stderr } = await refusedStart(s.box(), { [variable]: value });
      assert.match(stderr, line);
      assert.equal(code, 2);
    });
  }

  it('an out-of-range value in config.json is refused with one line naming its key and the file', async () => {
    for (const [key, value, what] of [['LOGIN_TIMEOUT_S', 2592000, 'must be an integer from 1 to 86400, got 2592000'], ['LOGIN_PORT', '1455', 'must be an integer from 0 to 65535, got "1455"']] as const) {
      const box = s.box();
      const file = writeConfig(box, { [key]: value });
      const { code, stderr } = await refusedStart(box);
      assert.equal(stderr, `codexd: ${key} in ${file} ${what}\n`);
      assert.equal(code, 2);
    }
  });

  it('every setting at its maximum: logins stay pending and a half-sent frame is not cut at once', async () => {
    const issuer = await s.issuer();
    const env: NodeJS.ProcessEnv = { CODEXD_ISSUER: issuer.url };
    for (const [name, spec] of Object.entries(SETTINGS)) {
      if (spec.type === 'integer') env[envName(name as keyof typeof SETTINGS)] = String(spec.max);
    }
    env['CODEXD_LOGIN_PORT'] = '0'; // a fixed port may be taken on a shared machine
    const box = s.box(env);
    await s.daemon(box);
    const c = await s.client(box);
    const raw = await RawConnection.open(box.socket);
    await raw.write('Content-Length: 100\r\n\r\n{');
    await c.loginStart({ type: 'chatgpt' });
    // A request answered after both timers were armed (the bug made them fire after 1 ms).
    await c.read();
    assert.equal(raw.closed, false, 'the half-sent frame is still waited for');
    const status = await c.read();
    assert.equal(status.login?.type, 'chatgpt', 'the browser login is still pending');
    raw.close();
  });
});
