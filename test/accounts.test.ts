// Several accounts: every login adds or updates one, the active one is what auth.json holds byte
// for byte, the others live in $CODEX_HOME/codexd/accounts/ in auth.json's format; list, switch,
// token by name and logout, from the protocol and from codex-auth.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCodes, type Status } from '../client/index.js';
import { cli, readAuth, readLog, recorder, rpcError, waitFor } from './helpers.js';
import { API_KEY, accountsDir, deviceLogin, NAMES, onDisk, threeAccounts, WHO_BY_NAME } from './accounts-support.js';
import { refreshErrorBody } from '../support/fake-issuer.js';
import { codexAuthJson, codexTimestamp, expMs, OTHER_ACCOUNT, readJson, rotateOutside, scene, waitForRefreshes, writeUnderLock } from './refresh-support.js';

describe('several accounts', () => {
  it('an existing login becomes the first account, its auth.json untouched', async (t) => {
    const s = await scene(t);
    const fixture = s.writeFixture();
    const before = statSync(s.authFile, { bigint: true });
    await s.start();
    const c = await s.client();
    const status = await c.read();
    assert.deepEqual(await c.accounts(), [
      { name: 'dev@example.com', type: 'chatgpt', email: 'dev@example.com', planType: 'pro', active: true, accessTokenExpiresAt: status.accessTokenExpiresAt, lastRefresh: status.lastRefresh, state: 'ok' },
    ]);
    assert.ok(status.lastRefresh, "auth.json's last_refresh");
    const listed = await cli(s.box, ['accounts']);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^\s+NAME\s+TYPE\s+EMAIL\s+PLAN\s+TOKEN EXPIRES\s+STATE\n\*\s+dev@example\.com\s+chatgpt\s+dev@example\.com\s+pro\s+\S+Z \(in \d+ min\)\s+ok\n$/);
    assert.equal(readAuth(s.box), fixture.raw, 'auth.json is byte for byte what it was');
    const after = statSync(s.authFile, { bigint: true });
    assert.equal(after.mtimeNs, before.mtimeNs, 'and was not rewritten');
    assert.equal(after.ino, before.ino);
  });

  it('every login adds an account; inactive ones are 0600 files in auth.json format in a 0700 folder', async (t) => {
    const { s, c, first } = await threeAccounts(t);
    const accounts = await c.accounts();
    assert.deepEqual(
      accounts.map(({ name, type, email, planType, active, state }) => ({ name, type, email, planType, active, state })),
      [
        { name: NAMES.key, type: 'apiKey', email: null, planType: null, active: true, state: 'ok' },
        { name: NAMES.first, type: 'chatgpt', email: 'dev@example.com', planType: 'pro', active: false, state: 'ok' },
        { name: NAMES.work, type: 'chatgpt', email: OTHER_ACCOUNT.email, planType: OTHER_ACCOUNT.planType, active: false, state: 'ok' },
      ],
    );
    assert.equal(readAuth(s.box), JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: API_KEY }, null, 2), 'auth.json holds the active account as Codex writes it');
    const disk = onDisk(s);
    assert.deepEqual(disk.inactive.map((login) => login.who).sort(), ['acct_fake_123', 'acct_other_456']);
    assert.equal(disk.inactive.find((login) => login.who === 'acct_fake_123')!.raw, first.raw, 'the first login moved to its file byte for byte');
    assert.equal(statSync(accountsDir(s)).mode & 0o777, 0o700);
    assert.equal(statSync(join(accountsDir(s), '..')).mode & 0o777, 0o700);
    for (const login of disk.inactive) {
      assert.equal(statSync(login.file).mode & 0o777, 0o600, login.file);
      assert.match(login.file, /\/(chatgpt|apikey)-[0-9a-f]{16}\.json$/, 'file names come from the key, never from a name or an email');
      const work = JSON.parse(login.raw) as Record<string, unknown>;
      assert.deepEqual(Object.keys(work), ['auth_mode', 'OPENAI_API_KEY', 'tokens', 'last_refresh'], "Codex's fields, in Codex's order");
    }
    assert.equal(s.issuer.revoked.length, 0, 'adding an account revokes nothing');

    const table = await cli(s.box, ['accounts', '--json']);
    assert.equal(table.code, 0, table.stderr);
    assert.deepEqual(JSON.parse(table.stdout), accounts);
  });

  it('codex-auth switch makes an account the one in auth.json; the outgoing one keeps what Codex wrote into auth.json', async (t) => {
    const { s, c } = await threeAccounts(t);
    const watcher = await s.client();
    const updates = recorder<Status>((listener) => watcher.onAccountUpdated(listener));
    const workFile = onDisk(s).inactive.find((login) => login.who === 'acct_other_456')!;

    const switched = await cli(s.box, ['switch', NAMES.work]);
    assert.equal(switched.code, 0, switched.stderr);
    assert.equal(switched.stdout, `Switched to work (${OTHER_ACCOUNT.email}, ${OTHER_ACCOUNT.planType})\n`);
    assert.equal(readAuth(s.box), workFile.raw, "auth.json is the account's whole record, byte for byte");
    const disk = onDisk(s);
    assert.deepEqual(disk.inactive.map((login) => login.who).sort(), ['acct_fake_123', 'apikey'], 'no account lost, none twice');
    const status = await updates.next((u) => u.accounts.find((a) => a.active)?.name === NAMES.work);
    assert.equal(status.account?.type, 'chatgpt');
    assert.equal(status.accounts.length, 3);

    // Codex refreshes the active account itself and writes auth.json under its lock: the switch adopts it.
    const codexTokens = await rotateOutside(s.issuer, readJson(s.authFile).tokens.refresh_token);
    const codexWrote = codexAuthJson(codexTokens, OTHER_ACCOUNT.accountId, codexTimestamp(Date.now()));
    await writeUnderLock(s.box.codexHome, codexWrote);
    const back = await c.switchAccount(NAMES.first);
    assert.equal(back.name, NAMES.first);
    assert.equal(back.active, true);
    assert.equal(readJson(s.authFile).tokens.account_id, 'acct_fake_123');
    assert.equal(onDisk(s).inactive.find((login) => login.who === 'acct_other_456')!.raw, codexWrote, "what Codex wrote went back to work's file");
    assert.equal((await c.token({ account: NAMES.work })).type, 'chatgpt');
    assert.equal(s.issuer.count('/oauth/token', 'refresh_token'), 1, 'only the outside refresh: switching refreshes nothing');

    const unknown = await cli(s.box, ['switch', 'nobody']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stdout, '');
    assert.equal(unknown.stderr, 'codex-auth: No account is named "nobody"; `codex-auth accounts` lists them.\n');
    assert.equal((await rpcError(c.switchAccount('nobody'))).code, ErrorCodes.accountNotFound);
    for (const args of [['switch'], ['switch', 'a b'], ['logout', NAMES.work, '--all'], ['login', '--name', '-x']]) {
      const run = await cli(s.box, args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stderr.split('\n').length, 2, `one line: ${run.stderr}`);
    }
  });

  it('account/token {account} gives that account its own fresh credential without switching', async (t) => {
    const { s, c } = await threeAccounts(t);
    const before = readAuth(s.box);
    const work = await c.token({ account: NAMES.work });
    assert.equal(work.type === 'chatgpt' && work.accountId, OTHER_ACCOUNT.accountId);
    const first = await c.token({ account: NAMES.first });
    assert.equal(first.type === 'chatgpt' && first.accountId, 'acct_fake_123');
    assert.deepEqual(await c.token({ account: NAMES.key }), { type: 'apiKey', apiKey: API_KEY });
    assert.deepEqual(await c.token(), { type: 'apiKey', apiKey: API_KEY }, 'the default is the active account');

    const forced = await c.token({ account: NAMES.work, forceRefresh: true });
    assert.ok(forced.type === 'chatgpt' && work.type === 'chatgpt' && forced.accessToken !== work.accessToken, 'a forced refresh of an inactive account');
    assert.equal(readAuth(s.box), before, 'auth.json untouched');
    const stored = onDisk(s).inactive.find((login) => login.who === 'acct_other_456')!;
    assert.equal(forced.type === 'chatgpt' && (JSON.parse(stored.raw) as { tokens: { access_token: string } }).tokens.access_token, forced.type === 'chatgpt' && forced.accessToken, "the refresh went to the account's file");

    const printed = await cli(s.box, ['token', '--account', NAMES.work]);
    assert.equal(printed.code, 0, printed.stderr);
    assert.equal(printed.stdout, `${forced.type === 'chatgpt' ? forced.accessToken : ''}\n`);
    const missing = await cli(s.box, ['token', '--account', 'nobody']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'codex-auth: No account is named "nobody"; `codex-auth accounts` lists them.\n');
  });

  it('a login to an account codexd already has updates it in place, keeps its name, and revokes the replaced refresh token', async (t) => {
    const { s, c } = await threeAccounts(t);
    const old = JSON.parse(onDisk(s).inactive.find((login) => login.who === 'acct_other_456')!.raw) as { tokens: { refresh_token: string } };
    await deviceLogin(s, c, OTHER_ACCOUNT);
    const accounts = await c.accounts();
    assert.deepEqual(accounts.map((a) => `${a.active ? '*' : ''}${a.name}`), [`*${NAMES.work}`, NAMES.key, NAMES.first], 'the same three, work active');
    assert.equal(readJson(s.authFile).tokens.account_id, OTHER_ACCOUNT.accountId);
    assert.deepEqual(onDisk(s).inactive.map((login) => login.who).sort(), ['acct_fake_123', 'apikey']);
    await waitFor(() => s.issuer.revoked.some((r) => r.token === old.tokens.refresh_token), 'the replaced refresh token to be revoked');

    const taken = await cli(s.box, ['login', '--with-api-key', '--name', NAMES.first], { input: 'sk-proj-another-key-0123456789abcdef' });
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /^codex-auth: The name "dev@example\.com" belongs to another account; .*\n$/);
    assert.equal((await c.accounts()).length, 3, 'nothing was added');
  });

  it('logout NAME and logout --all revoke at the issuer and remove the files', async (t) => {
    const { s, c } = await threeAccounts(t);
    const work = JSON.parse(onDisk(s).inactive.find((login) => login.who === 'acct_other_456')!.raw) as { tokens: { refresh_token: string } };
    const one = await cli(s.box, ['logout', NAMES.work], { timeoutMs: 30_000 });
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout, 'Logged out of work\n');
    assert.deepEqual(s.issuer.revoked.map((r) => r.token), [work.tokens.refresh_token]);
    assert.deepEqual(onDisk(s).inactive.map((login) => login.who), ['acct_fake_123']);
    assert.equal(onDisk(s).active?.who, 'apikey', 'the active account is left alone');
    assert.equal((await rpcError(c.token({ account: NAMES.work }))).code, ErrorCodes.accountNotFound);

    const first = JSON.parse(onDisk(s).inactive[0]!.raw) as { tokens: { refresh_token: string } };
    const all = await cli(s.box, ['logout', '--all'], { timeoutMs: 30_000 });
    assert.equal(all.code, 0, all.stderr);
    assert.equal(all.stdout, 'Logged out of every account (2)\n');
    assert.deepEqual(s.issuer.revoked.map((r) => r.token), [work.tokens.refresh_token, first.tokens.refresh_token]);
    assert.deepEqual(onDisk(s), { active: null, inactive: [] });
    assert.deepEqual(await c.accounts(), []);
    const none = await cli(s.box, ['accounts']);
    assert.equal(none.code, 1);
    assert.equal(none.stdout, 'No accounts. Run `codex-auth login` to add one.\n');
  });

  it('logging out of the active account makes another one active, as gh does, and says which; --all leaves none', async (t) => {
    const { s } = await threeAccounts(t);
    const run = await cli(s.box, ['logout'], { timeoutMs: 30_000 });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, `Successfully logged out\n${NAMES.first} (dev@example.com, pro) is the active account now (the one Codex uses); \`codex-auth switch NAME\` picks another\n`);
    assert.equal(onDisk(s).active?.who, WHO_BY_NAME[NAMES.first]);
    const status = await cli(s.box, ['status']);
    assert.equal(status.code, 0, status.stdout);
    assert.match(status.stdout, /^Logged in using ChatGPT as dev@example\.com \(pro\)$/m);
    assert.deepEqual((await cli(s.box, ['accounts', '--json']).then((r) => JSON.parse(r.stdout) as Array<{ name: string }>)).map((account) => account.name).sort(), [NAMES.first, NAMES.work]);
    const all = await cli(s.box, ['logout', '--all'], { timeoutMs: 30_000 });
    assert.deepEqual(all, { code: 0, stdout: 'Logged out of every account (2)\n', stderr: '' });
    assert.equal(onDisk(s).active, null);
    assert.equal((await cli(s.box, ['token'])).code, 1);
  });

  it('inactive accounts are refreshed before they expire, in their own files, without touching auth.json', async (t) => {
    const { s, c, daemon } = await threeAccounts(t);
    await c.switchAccount(NAMES.work);
    await daemon.stop();
    // The first account's access token, in its file, now expires within the refresh margin.
    const firstFile = onDisk(s).inactive.find((login) => login.who === 'acct_fake_123')!.file;
    const due = s.issuer.mintTokens({ accessExpiresInS: 300 });
    writeFileSync(firstFile, codexAuthJson(due, 'acct_fake_123', codexTimestamp(Date.now() - 3_300_000)), { mode: 0o600 });
    const authBefore = readAuth(s.box);
    const statBefore = statSync(s.authFile, { bigint: true });

    await s.start();
    const refreshed = await waitForRefreshes(s, 1);
    assert.equal(refreshed[0]!.body['refresh_token'], due.refresh_token, "the inactive account's own refresh token was spent");
    assert.ok(refreshed[0]!.at < expMs(due.access_token), 'before the access token expired');
    const c2 = await s.client();
    const dueAt = new Date(expMs(due.access_token)).toISOString();
    const first = await waitFor(async () => (await c2.accounts()).find((account) => account.name === NAMES.first && account.accessTokenExpiresAt !== dueAt && account.state !== 'refreshing'), 'the refreshed account in the list, its refresh ended');
    const stored = (JSON.parse(readFileSync(firstFile, 'utf8')) as { tokens: { access_token: string } }).tokens;
    assert.equal(first.accessTokenExpiresAt, new Date(expMs(stored.access_token)).toISOString(), "the refreshed tokens are in the account's file");
    assert.equal(first.state, 'ok');
    assert.equal(readAuth(s.box), authBefore, 'auth.json is byte for byte what it was');
    const statAfter = statSync(s.authFile, { bigint: true });
    assert.equal(statAfter.mtimeNs, statBefore.mtimeNs, 'auth.json was not rewritten');
    assert.equal(statAfter.ino, statBefore.ino);
  });

  it('a permanent refresh failure marks only that account reauthRequired', async (t) => {
    const { s, c } = await threeAccounts(t);
    s.issuer.script('/oauth/token', { status: 401, body: refreshErrorBody('refresh_token_invalidated') });
    const error = await rpcError(c.token({ account: NAMES.work, forceRefresh: true }));
    assert.equal(error.code, ErrorCodes.reauthRequired);
    assert.match(error.message, /was revoked\. .*Run `codex-auth login --name work`\.$/);
    const states = Object.fromEntries((await c.accounts()).map((account) => [account.name, account.state]));
    assert.deepEqual(states, { [NAMES.key]: 'ok', [NAMES.first]: 'ok', [NAMES.work]: 'reauthRequired' });
    assert.equal((await c.token({ account: NAMES.first, forceRefresh: true })).type, 'chatgpt', 'the other account still refreshes');
    const switched = await cli(s.box, ['switch', NAMES.work]);
    assert.equal(switched.code, 0);
    assert.equal(switched.stderr, 'codex-auth: Warning: work needs a new sign-in: run `codex-auth login --name work`\n');
    assert.equal((await c.read()).state, 'reauthRequired', 'the failure moves with the account');
    assert.equal(s.issuer.count('/oauth/token', 'refresh_token'), 2, 'no second try of the dead refresh token');
  });

  it('another program writing an inactive account into auth.json makes it active: auth.json wins, its file goes', async (t) => {
    const { s, c } = await threeAccounts(t);
    const watcher = await s.client();
    const updates = recorder<Status>((listener) => watcher.onAccountUpdated(listener));
    // As `codex login` would: a new login of the work account, written under Codex's lock.
    const fresh = s.issuer.mintTokens({ account: OTHER_ACCOUNT });
    await writeUnderLock(s.box.codexHome, codexAuthJson(fresh, OTHER_ACCOUNT.accountId, codexTimestamp(Date.now())));
    await updates.next((u) => u.accounts.find((a) => a.active)?.name === NAMES.work, 10_000);
    assert.deepEqual((await c.accounts()).map((a) => `${a.active ? '*' : ''}${a.name}`), [`*${NAMES.work}`, NAMES.first], 'the key it replaced is gone, work keeps its name');
    // The news that work is active goes out as auth.json is read; its old file goes after that, under its lock.
    await waitFor(() => readLog(s.box).includes('removed the account file of the active account'), "codexd to remove work's old file", 10_000);
    assert.deepEqual(onDisk(s).inactive.map((login) => login.who), ['acct_fake_123'], "work's old file was removed");
    const token = await c.token();
    assert.equal(token.type === 'chatgpt' && token.accessToken, fresh.access_token);
  });

  it('a name in names.json that breaks the naming rules is dropped at start, with a warning, and the default name applies', async (t) => {
    const { s, daemon } = await threeAccounts(t);
    await daemon.stop();
    const namesFile = join(s.box.codexHome, 'codexd', 'names.json');
    const names = JSON.parse(readFileSync(namesFile, 'utf8')) as Record<string, string>;
    const workKey = Object.keys(names).find((key) => names[key] === NAMES.work)!;
    writeFileSync(namesFile, JSON.stringify({ ...names, [workKey]: 'my work' }));
    await s.start();
    const listed = await cli(s.box, ['accounts', '--json']);
    const work = (JSON.parse(listed.stdout) as Array<{ name: string; email: string }>).find((account) => account.email === OTHER_ACCOUNT.email)!;
    assert.equal(work.name, OTHER_ACCOUNT.email, 'the default name, not "my work"');
    const switched = await cli(s.box, ['switch', work.name]);
    assert.equal(switched.code, 0, switched.stderr);
    assert.equal(onDisk(s).active?.who, WHO_BY_NAME[NAMES.work]);
    assert.match(readLog(s.box), /names\.json names an account \\"my work\\", which cannot be used \(a name is 1 to 64 letters/);
  });
});
