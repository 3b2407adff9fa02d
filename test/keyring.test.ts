// Keyring mode (issue 15): with `cli_auth_credentials_store = "keyring"` in config.toml the login
// lives in Codex's OS keyring entry and nowhere else, against a real Secret Service (gnome-keyring
// on a private D-Bus bus); `auto` falls back to auth.json when there is none; a keyring that hangs
// costs one clear error within the timeout while every other client is served.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ErrorCodes } from '../client/index.js';
import { keyringAccount } from '../daemon/keyring/client.js';
import { cli, client, hasAuth, readAuth, readLog, rpcError, sandbox, startDaemon, waitFor } from './helpers.js';
import { secretServiceMissing, startSecretService, type SecretService } from './keyring-support.js';
import { consent, finishWorlds, httpGet, world, type World } from './login-support.js';

const skip = secretServiceMissing ?? false;
const API_KEY = 'sk-keyring-test-0123456789abcdef';

let ss: SecretService;
before(async () => {
  if (!skip) ss = await startSecretService();
});
after(async () => {
  await finishWorlds();
  await ss?.stop();
});

/** Codex's account for a CODEX_HOME, computed here from the rule rather than taken from codexd. */
function account(codexHome: string): string {
  return `cli|${createHash('sha256').update(realpathSync(codexHome)).digest('hex').slice(0, 16)}`;
}

function writeConfig(codexHome: string, mode: string): void {
  writeFileSync(join(codexHome, 'config.toml'), `# written by the keyring tests\nmodel = "o4"\ncli_auth_credentials_store = "${mode}"\n\n[tui]\nanimations = false\n`);
}

/** A world whose config.toml says `mode`, on the test's Secret Service (or on `bus`). */
function keyringWorld(
  name: string,
  mode: string,
  options: { bus?: string; env?: Record<string, string>; entry?: (w: Pick<World, 'issuer' | 'box'>) => string; before?: (w: Pick<World, 'issuer' | 'box'>) => void } = {},
): Promise<World> {
  return world(name, {
    env: { DBUS_SESSION_BUS_ADDRESS: options.bus ?? ss.env.DBUS_SESSION_BUS_ADDRESS, CODEXD_KEYRING_POLL_MS: '200', ...options.env },
    before: (w) => {
      mkdirSync(w.box.codexHome, { recursive: true, mode: 0o700 });
      writeConfig(w.box.codexHome, mode);
      if (options.entry) ss.store(account(w.box.codexHome), options.entry(w));
      options.before?.(w);
    },
  });
}

function entryOf(w: World): Record<string, unknown> | null {
  const raw = ss.lookup(account(w.box.codexHome));
  if (raw === null) return null;
  assert.ok(!raw.includes('\n'), `the entry is compact JSON, as Codex writes it: ${raw}`);
  return JSON.parse(raw) as Record<string, unknown>;
}

describe('cli_auth_credentials_store in config.toml', () => {
  it('is read with a TOML parser, at the top level only, and followed as it changes; a value or a file codexd cannot follow is reported', async () => {
    const w = await world('config.toml parsing');
    // Without a Secret Service here, auto mode's own keyring failure is a problem too: checked only when given.
    const configured = (mode: string, problem?: RegExp | null) =>
      waitFor(async () => {
        const { credentialStore: store } = await w.watcher.read();
        const problemOk = problem === undefined || (problem ? problem.test(store.problem ?? '') : store.problem === null);
        return store.configured === mode && problemOk ? store : null;
      }, `configured ${mode}, problem ${problem}`);
    const toml = (text: string): void => writeFileSync(join(w.box.codexHome, 'config.toml'), text);
    await configured('file', null);
    toml('model = "o4"\n"cli_auth_credentials_store" = \'auto\' # quoted key, literal string\n[profiles.x]\nmodel = "o3"\n');
    await configured('auto');
    toml('[profiles.x]\ncli_auth_credentials_store = "keyring"\n');
    await configured('file', null);
    toml('cli_auth_credentials_store = "vault"\n');
    await configured('file', /cli_auth_credentials_store = "vault" in config\.toml is not one codexd knows \(file, keyring or auto\), so it uses auth\.json/);
    toml('cli_auth_credentials_store = "auto"\n');
    await configured('auto');
    toml('cli_auth_credentials_store = "keyring\n');
    await configured('auto', /^config\.toml is not valid TOML \(.+\); codexd keeps using the auto store$/);
  });
});

describe('keyring mode, against a real Secret Service', { skip }, () => {
  it("the account is Codex's: cli| and 16 hex digits of the sha256 of the canonical CODEX_HOME", () => {
    assert.equal(keyringAccount('/tmp/../tmp'), account('/tmp'));
  });

  it('an API-key login goes into the entry as compact JSON, no auth.json; token and status read it; logout removes the entry', async () => {
    const w = await keyringWorld('keyring api key', 'keyring');
    w.extraSecrets.push({ label: 'API key', value: API_KEY });
    const login = await cli(w.box, ['login', '--with-api-key'], { input: API_KEY });
    assert.equal(login.code, 0, login.stderr);
    assert.deepEqual(entryOf(w), { auth_mode: 'apikey', OPENAI_API_KEY: API_KEY });
    assert.equal(ss.lookup(account(w.box.codexHome)), `{"auth_mode":"apikey","OPENAI_API_KEY":"${API_KEY}"}`);
    assert.equal(hasAuth(w.box), false, 'no auth.json in keyring mode');
    assert.deepEqual(await w.watcher.token(), { type: 'apiKey', apiKey: API_KEY });
    const status = await w.watcher.read();
    assert.deepEqual(status.credentialStore, { configured: 'keyring', using: 'keyring', keyringEntry: { service: 'Codex Auth', account: account(w.box.codexHome) }, problem: null });
    const shown = await cli(w.box, ['status']);
    assert.match(shown.stdout, /stored in: +the OS keyring \(Codex Auth, cli\|[0-9a-f]{16}\), cli_auth_credentials_store = "keyring"/);

    const logout = await cli(w.box, ['logout']);
    assert.equal(logout.code, 0, logout.stderr);
    assert.equal(entryOf(w), null, 'logout deletes the entry');
    assert.equal(hasAuth(w.box), false);
    assert.equal((await w.watcher.read()).state, 'loggedOut');
  });

  it('a browser login and a device-code login land in the entry, replacing an auth.json left from file mode', async () => {
    const w = await keyringWorld('keyring browser and device', 'keyring', {
      entry: () => '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-old-entry-0000"}',
    });
    writeFileSync(join(w.box.codexHome, 'auth.json'), '{"auth_mode":"apikey","OPENAI_API_KEY":"sk-left-from-file-mode"}');
    const started = await w.watcher.loginStart({ type: 'chatgpt' });
    assert.equal(started.type, 'chatgpt');
    await httpGet(await consent(w.issuer, started.authUrl));
    assert.deepEqual(await w.completed.next((e) => e.loginId === started.loginId, 20_000), { loginId: started.loginId, success: true, error: null });
    const browser = entryOf(w)!;
    assert.deepEqual(Object.keys(browser), ['auth_mode', 'OPENAI_API_KEY', 'tokens', 'last_refresh']);
    assert.equal(browser['auth_mode'], 'chatgpt');
    assert.equal(hasAuth(w.box), false, 'the save removed auth.json, as Codex does');

    const device = await w.watcher.loginStart({ type: 'chatgptDeviceCode' });
    assert.equal(device.type, 'chatgptDeviceCode');
    w.shown.push(device.userCode);
    assert.deepEqual(await w.completed.next((e) => e.loginId === device.loginId, 30_000), { loginId: device.loginId, success: true, error: null });
    const afterDevice = entryOf(w)!;
    assert.equal((afterDevice['tokens'] as { refresh_token: string }).refresh_token !== (browser['tokens'] as { refresh_token: string }).refresh_token, true);
    assert.equal(afterDevice['OPENAI_API_KEY'], null, 'device logins keep no API key');
    const token = await w.watcher.token();
    assert.equal(token.type === 'chatgpt' && token.accessToken, (afterDevice['tokens'] as { access_token: string }).access_token);
  });

  it('a refresh rotates the tokens inside the entry (one request, no auth.json)', async () => {
    let stored = '';
    const w = await keyringWorld('keyring refresh', 'keyring', {
      entry: ({ issuer }) => {
        const tokens = issuer.mintTokens({ accessExpiresInS: 120 }); // inside the 10-minute margin
        stored = JSON.stringify({ auth_mode: 'chatgpt', OPENAI_API_KEY: null, tokens: { ...tokens, account_id: 'acct_fake_123' }, last_refresh: '2025-06-01T08:00:00.000000000Z' });
        return stored;
      },
    });
    // The refresh may have happened before the daemon answered: compare with what was stored.
    const before = JSON.parse(stored) as Record<string, unknown>;
    await waitFor(() => w.issuer.requests.some((r) => r.body['grant_type'] === 'refresh_token'), 'the refresh', 10_000);
    const rotated = await waitFor(() => {
      const now = entryOf(w);
      return now && JSON.stringify(now) !== JSON.stringify(before) ? now : null;
    }, 'the entry to hold the rotated tokens');
    const [old, next] = [before['tokens'], rotated['tokens']] as Array<{ refresh_token: string; access_token: string; account_id: string }>;
    assert.notEqual(next!.refresh_token, old!.refresh_token);
    assert.notEqual(next!.access_token, old!.access_token);
    assert.equal(next!.account_id, 'acct_fake_123');
    assert.notEqual(rotated['last_refresh'], before['last_refresh']);
    assert.equal(w.issuer.requests.filter((r) => r.body['grant_type'] === 'refresh_token').length, 1);
    assert.equal(hasAuth(w.box), false);
    const token = await w.watcher.token();
    assert.equal(token.type === 'chatgpt' && token.accessToken, next!.access_token);
  });

  it('several accounts: the inactive ones go into keyring entries of codexd\'s own, not into files, and come back after a restart', async () => {
    const [first, second] = ['sk-keyring-account-one-0000000001', 'sk-keyring-account-two-0000000002'];
    const w = await keyringWorld('keyring several accounts', 'keyring');
    for (const key of [first, second]) {
      w.extraSecrets.push({ label: 'API key', value: key });
      const login = await cli(w.box, ['login', '--with-api-key', '--name', key.slice(19, 22)], { input: key });
      assert.equal(login.code, 0, login.stderr);
    }
    const home = account(w.box.codexHome).slice('cli|'.length);
    const ours = (): Record<string, unknown> => {
      const found = ss.search('codexd').filter(({ account: name }) => name.startsWith(`cli|${home}|`));
      return Object.fromEntries(found.map(({ account: name, secret }) => [name, JSON.parse(secret)]));
    };
    assert.deepEqual(Object.values(ours()), [{ auth_mode: 'apikey', OPENAI_API_KEY: first }], 'the inactive account is in an entry of codexd');
    assert.match(Object.keys(ours())[0]!, new RegExp(`^cli\\|${home}\\|apikey-[0-9a-f]{16}$`));
    assert.equal(entryOf(w)!['OPENAI_API_KEY'], second, 'the active one in Codex\'s entry');
    assert.equal(existsSync(join(w.box.codexHome, 'codexd', 'accounts')) && readdirSync(join(w.box.codexHome, 'codexd', 'accounts')).length > 0, false, 'no account file');
    assert.equal(hasAuth(w.box), false);

    assert.equal((await cli(w.box, ['switch', 'one'])).code, 0);
    assert.equal(entryOf(w)!['OPENAI_API_KEY'], first);
    assert.deepEqual(Object.values(ours()), [{ auth_mode: 'apikey', OPENAI_API_KEY: second }]);

    await w.daemon.stop();
    const again = await startDaemon(w.box);
    try {
      const c = await client(w.box);
      assert.deepEqual((await c.accounts()).map(({ name, active }) => [name, active]), [['one', true], ['two', false]]);
      assert.deepEqual(await c.token({ account: 'two' }), { type: 'apiKey', apiKey: second });
      await c.close();
    } finally {
      await again.stop();
    }
  });

  it('an outside change of the entry (Codex logging in) is adopted and announced', async () => {
    const w = await keyringWorld('keyring outside change', 'keyring');
    assert.equal((await w.watcher.read()).state, 'loggedOut');
    const outside = 'sk-written-by-another-program-42';
    w.extraSecrets.push({ label: 'outside key', value: outside });
    ss.store(account(w.box.codexHome), JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: outside }));
    await w.updates.next((s) => s.account?.type === 'apiKey', 5000);
    assert.deepEqual(await w.watcher.token(), { type: 'apiKey', apiKey: outside });
  });

  it('a switch of cli_auth_credentials_store in config.toml takes effect without a restart; nothing is moved', async () => {
    const w = await keyringWorld('keyring mode switch', 'file');
    w.extraSecrets.push({ label: 'API key', value: API_KEY });
    assert.equal((await cli(w.box, ['login', '--with-api-key'], { input: API_KEY })).code, 0);
    assert.equal(JSON.parse(readAuth(w.box)).OPENAI_API_KEY, API_KEY, 'file mode writes auth.json');
    assert.equal(entryOf(w), null);

    writeConfig(w.box.codexHome, 'keyring');
    const switched = await w.updates.next((s) => s.credentialStore.configured === 'keyring', 5000);
    assert.equal(switched.state, 'loggedOut', 'the empty entry is what counts now; auth.json is not migrated');
    assert.equal(hasAuth(w.box), true, 'and auth.json is left as it was');
    writeConfig(w.box.codexHome, 'file');
    assert.equal((await w.updates.next((s) => s.credentialStore.configured === 'file', 5000)).account?.type, 'apiKey');
  });

  it('a switch of credential store lists the accounts of the new store at once, keeps every name, and moves no account between stores', async () => {
    const keys = { kr1: 'sk-store-switch-keyring-00000000001', kr2: 'sk-store-switch-keyring-00000000002', 'laptop-key': 'sk-store-switch-file-000000000003' };
    const w = await keyringWorld('keyring store switch names', 'keyring');
    const login = async (name: keyof typeof keys): Promise<void> => {
      w.extraSecrets.push({ label: 'API key', value: keys[name] });
      const run = await cli(w.box, ['login', '--with-api-key', '--name', name], { input: keys[name] });
      assert.equal(run.code, 0, run.stderr);
    };
    const listed = (status: { accounts: Array<{ name: string; active: boolean }> }): string[] => status.accounts.map((a) => `${a.active ? '*' : ''}${a.name}`);
    await login('kr1');
    await login('kr2');
    assert.deepEqual(listed(await w.watcher.read()), ['*kr2', 'kr1']);

    writeConfig(w.box.codexHome, 'file');
    await w.updates.next((s) => s.credentialStore.configured === 'file' && s.accounts.length === 0, 5000);
    const moved = await cli(w.box, ['switch', 'kr1']);
    assert.equal(moved.code, 1, 'an account of the other store is not quietly moved into this one');
    assert.match(moved.stderr, /No account is named "kr1"/);
    await login('laptop-key');
    assert.deepEqual(listed(await w.watcher.read()), ['*laptop-key']);

    writeConfig(w.box.codexHome, 'keyring');
    await w.updates.next((s) => s.credentialStore.configured === 'keyring' && listed(s).join() === '*kr2,kr1', 5000);
    await waitFor(() => /accounts not in .*, stay where they were with their names, .*: laptop-key"/.test(readLog(w.box)), 'the warning that names the account left in the files');
    writeConfig(w.box.codexHome, 'file');
    await w.updates.next((s) => s.credentialStore.configured === 'file' && listed(s).join() === '*laptop-key', 5000);
  });

  it("Codex's encrypted format (secrets/cli_auth.age, only a passphrase in the keyring) is explained, not taken for a logout", async () => {
    const encryptedFile = ({ box }: Pick<World, 'box'>): void => {
      mkdirSync(join(box.codexHome, 'secrets'), { mode: 0o700 });
      writeFileSync(join(box.codexHome, 'secrets', 'cli_auth.age'), 'age-encryption.org/v1\n-> X25519 not a real file\n');
    };
    const explained = /^the OS keyring entry cannot be used: Codex keeps this login encrypted in secrets\/cli_auth\.age with only its passphrase in the OS keyring .*2,560 bytes.*log in again with codex-auth, or set cli_auth_credentials_store = "file" in config\.toml$/;
    // The entry missing, or holding a passphrase instead of a JSON login.
    const missing = await keyringWorld('keyring encrypted format, no entry', 'keyring', { before: encryptedFile });
    const passphrase = await keyringWorld('keyring encrypted format, a passphrase', 'keyring', { before: encryptedFile, entry: () => 'q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=' });
    for (const w of [missing, passphrase]) {
      const status = await w.watcher.read();
      assert.equal(status.state, 'loggedOut');
      assert.match(status.reauthReason ?? '', explained);
      const shown = await cli(w.box, ['status']);
      assert.match(shown.stdout, /^Not logged in: the OS keyring entry cannot be used: Codex keeps this login encrypted/m);
    }
  });

  it('auto mode: the keyring when it answers, auth.json when no Secret Service is running', async () => {
    const w = await keyringWorld('auto with keyring', 'auto');
    w.extraSecrets.push({ label: 'API key', value: API_KEY });
    assert.equal((await cli(w.box, ['login', '--with-api-key'], { input: API_KEY })).code, 0);
    assert.deepEqual(entryOf(w), { auth_mode: 'apikey', OPENAI_API_KEY: API_KEY });
    assert.equal(hasAuth(w.box), false);

    const none = await keyringWorld('auto without keyring', 'auto', { bus: 'unix:path=/nonexistent/codexd-test-bus' });
    none.extraSecrets.push({ label: 'API key', value: API_KEY });
    const login = await cli(none.box, ['login', '--with-api-key'], { input: API_KEY });
    assert.equal(login.code, 0, login.stderr);
    assert.deepEqual(JSON.parse(readAuth(none.box)), { auth_mode: 'apikey', OPENAI_API_KEY: API_KEY });
    const status = await none.watcher.read();
    assert.equal(status.account?.type, 'apiKey');
    assert.equal(status.credentialStore.using, 'file');
    assert.match(status.credentialStore.problem ?? '', /OS keyring failed .*cli_auth_credentials_store = "file"/);
    const shown = await cli(none.box, ['status']);
    assert.match(shown.stdout, /stored in: +auth\.json \(the keyring is not usable\), cli_auth_credentials_store = "auto"/);
    assert.deepEqual(await none.watcher.token(), { type: 'apiKey', apiKey: API_KEY });
  });

  it('keyring mode with no Secret Service: a login is refused as not stored (-33008), never reported as a success', async () => {
    const w = await keyringWorld('keyring without keyring', 'keyring', { bus: 'unix:path=/nonexistent/codexd-test-bus' });
    w.extraSecrets.push({ label: 'API key', value: API_KEY });
    const status = await w.watcher.read();
    assert.equal(status.state, 'loggedOut');
    assert.match(status.reauthReason ?? '', /OS keyring failed/);
    const login = await cli(w.box, ['login', '--with-api-key'], { input: API_KEY });
    assert.equal(login.code, 1);
    assert.match(login.stderr, /^codex-auth: Could not save the login: The OS keyring failed \(.+\): unlock the OS keyring .*cli_auth_credentials_store = "file" in config\.toml\.\n$/);
    assert.equal(hasAuth(w.box), false, 'keyring mode never falls back to the file');
    assert.equal((await rpcError(w.watcher.token())).code, ErrorCodes.credentialStoreUnavailable);
  });
});

describe('a locked keyring', { skip }, () => {
  it('a call that hangs on the unlock prompt fails clearly within the timeout, while other clients are served', { timeout: 60_000 }, async () => {
    const locked = await startSecretService();
    try {
      const w = await keyringWorld('keyring locked', 'keyring', { bus: locked.env.DBUS_SESSION_BUS_ADDRESS, env: { CODEXD_KEYRING_TIMEOUT_MS: '3000', CODEXD_KEYRING_POLL_MS: '60000' } });
      w.extraSecrets.push({ label: 'API key', value: API_KEY });
      locked.lock();
      const other = await w.client();
      const startedAt = Date.now();
      const login = rpcError(w.watcher.loginStart({ type: 'apiKey', apiKey: API_KEY })).then((error) => ({ error, ms: Date.now() - startedAt }));
      // While the keyring call hangs, other requests are answered at once, file reads included.
      for (let i = 0; i < 3; i++) {
        const asked = Date.now();
        assert.equal((await other.daemonStatus()).codexHome, w.box.codexHome);
        assert.equal((await other.read()).state, 'loggedOut');
        assert.ok(Date.now() - asked < 2000, `answered in ${Date.now() - asked} ms while the keyring hangs`);
      }
      const failed = await login;
      assert.equal(failed.error.code, ErrorCodes.credentialStoreUnavailable);
      assert.match(failed.error.message, /^Could not save the login: The OS keyring did not answer within 3 s \(a locked keyring waiting for an unlock prompt\?\): unlock the OS keyring/);
      assert.ok(failed.ms >= 2900 && failed.ms < 20_000, `failed after the timeout, not before and not much later (${failed.ms} ms)`);
      assert.match((await other.read()).credentialStore.problem ?? '', /did not answer within 3 s/);
      assert.equal(hasAuth(w.box), false);
    } finally {
      await locked.stop();
    }
  });
});

describe('a daemon without a session bus address', () => {
  it('keyring mode names the cause (no DBUS_SESSION_BUS_ADDRESS in the environment of the client that started it) and the fix', async (t) => {
    const box = sandbox(); // an environment the test built: no DBUS_SESSION_BUS_ADDRESS, as under cron or ssh
    t.after(() => box.cleanup());
    mkdirSync(box.codexHome, { recursive: true, mode: 0o700 });
    writeConfig(box.codexHome, 'keyring');
    const status = await cli(box, ['status']); // autostarts codexd with this environment
    assert.equal(status.code, 1, status.stdout + status.stderr);
    const headline = status.stdout.split('\n')[0]!;
    assert.match(headline, /^Not logged in: The OS keyring cannot be reached: codexd has no session bus address \(DBUS_SESSION_BUS_ADDRESS is unset in the environment it got from codex-auth \(pid \d+\), which started it; /);
    assert.match(headline, /Run `codex-auth daemon stop`, then any codex-auth command from a shell of your desktop session/);
    assert.doesNotMatch(headline, /unlock the OS keyring/, 'not the advice for a locked keyring');
  });
});
