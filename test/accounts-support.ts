// Shared pieces of the several-accounts tests: a daemon holding two ChatGPT accounts and an API
// key, each logged in through the daemon against the fake issuer, and a reading of every login on
// disk (auth.json and the account files).
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { CodexdClient, LoginCompleted } from '../client/index.js';
import type { FakeAccount } from '../support/fake-issuer.js';
import { recorder, type Daemon } from './helpers.js';
import { OTHER_ACCOUNT, scene, type Fixture, type Scene } from './refresh-support.js';

export const API_KEY = 'sk-proj-accounts-test-0123456789abcdefWXYZ';

/** The three accounts by name: the first login (migrated from auth.json), "work", and the key. */
export const NAMES = { first: 'dev@example.com', work: 'work', key: 'apikey-WXYZ' } as const;

/** Who a login on disk is: its ChatGPT account id, or "apikey". */
export type Who = 'acct_fake_123' | 'acct_other_456' | 'apikey';
export const WHO_BY_NAME: Record<string, Who> = { [NAMES.first]: 'acct_fake_123', [NAMES.work]: 'acct_other_456', [NAMES.key]: 'apikey' };

export function accountsDir(s: Scene): string {
  return join(s.box.codexHome, 'codexd', 'accounts');
}

/** Logs in to `account` with a device code through the daemon, as `codex-auth login --device-auth` does. */
export async function deviceLogin(s: Scene, c: CodexdClient, account: FakeAccount, name?: string): Promise<void> {
  const before = s.issuer.account;
  s.issuer.account = account;
  s.issuer.devicePendingPolls = 0;
  try {
    const completed = recorder<LoginCompleted>((listener) => c.onLoginCompleted(listener));
    const started = await c.loginStart({ type: 'chatgptDeviceCode', keepAfterDisconnect: true, ...(name === undefined ? {} : { name }) });
    assert.equal(started.type, 'chatgptDeviceCode');
    const done = await completed.next((event) => event.loginId === (started as { loginId: string }).loginId, 30_000);
    assert.equal(done.success, true, done.error ?? '');
  } finally {
    s.issuer.account = before;
  }
}

export interface ThreeAccounts {
  s: Scene;
  c: CodexdClient;
  daemon: Daemon;
  /** The login that was auth.json before codexd first started. */
  first: Fixture;
}

/**
 * codexd started on an existing auth.json (dev@example.com), then a device-code login to
 * OTHER_ACCOUNT named "work", then an API key: the key is active, the other two are inactive.
 */
export async function threeAccounts(t: TestContext, env: NodeJS.ProcessEnv = {}): Promise<ThreeAccounts> {
  const s = await scene(t, env);
  const first = s.writeFixture();
  const daemon = await s.start();
  const c = await s.client();
  await deviceLogin(s, c, OTHER_ACCOUNT, NAMES.work);
  await c.loginStart({ type: 'apiKey', apiKey: API_KEY });
  const names = (await c.accounts()).map((account) => `${account.active ? '*' : ''}${account.name}`);
  assert.deepEqual(names, [`*${NAMES.key}`, NAMES.first, NAMES.work]);
  return { s, c, daemon, first };
}

export interface StoredLogin {
  file: string;
  raw: string;
  who: Who;
}

function read(file: string): StoredLogin {
  const raw = readFileSync(file, 'utf8');
  const record = JSON.parse(raw) as { auth_mode: string; tokens?: { account_id: string } };
  return { file, raw, who: record.auth_mode === 'apikey' ? 'apikey' : (record.tokens!.account_id as Who) };
}

/** auth.json (null when there is none) and every account file, as they are on disk now. */
export function onDisk(s: Scene): { active: StoredLogin | null; inactive: StoredLogin[] } {
  const dir = accountsDir(s);
  const files = existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.json')) : [];
  return { active: existsSync(s.authFile) ? read(s.authFile) : null, inactive: files.map((name) => read(join(dir, name))) };
}
