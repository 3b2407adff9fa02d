// Shared pieces of the usage tests (usage-*.test.ts): a scene whose daemon holds several ChatGPT
// accounts (the first from auth.json, the others logged in with a device code) and asks the fake
// backend (support/fake-backend.ts) for usage, through config.toml's chatgpt_base_url as Codex
// does.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import type { CodexdClient } from '../client/index.js';
import { startFakeBackend, type FakeBackend } from '../support/fake-backend.js';
import type { FakeAccount } from '../support/fake-issuer.js';
import { deviceLogin } from './accounts-support.js';
import type { Daemon } from './helpers.js';
import { scene, type Scene } from './refresh-support.js';

export interface UsageScene {
  s: Scene;
  backend: FakeBackend;
  daemon: Daemon;
  c: CodexdClient;
  /** Every ChatGPT account, in login order; its name is its email. The last one is active. */
  accounts: FakeAccount[];
}

/** The n-th test account (0: the fake issuer's own). */
export function testAccount(s: Scene, n: number): FakeAccount {
  if (n === 0) return s.issuer.account;
  return { email: `user${n}@example.com`, planType: 'plus', accountId: `acct_usage_${n}`, userId: `user_usage_${n}` };
}

/** Points Codex's chatgpt_base_url at the fake backend, as a user's config.toml would. */
export function writeBackendConfig(codexHome: string, backendUrl: string): void {
  mkdirSync(codexHome, { recursive: true, mode: 0o700 });
  writeFileSync(join(codexHome, 'config.toml'), `chatgpt_base_url = "${backendUrl}/backend-api/"\n`, { mode: 0o600 });
}

/**
 * A daemon holding `count` ChatGPT accounts (at least 1), against a fake backend. `usage`: what
 * the backend answers for the n-th account from the start (a daemon with SWITCH_AT asks at once).
 */
export async function usageScene(t: TestContext, count: number, env: NodeJS.ProcessEnv = {}, usage: Record<number, object> = {}): Promise<UsageScene> {
  const s = await scene(t, env);
  const backend = await startFakeBackend();
  t.after(() => backend.close());
  for (const [n, body] of Object.entries(usage)) backend.scriptUsage(testAccount(s, Number(n)).accountId, { body });
  writeBackendConfig(s.box.codexHome, backend.url);
  s.writeFixture();
  const daemon = await s.start();
  const c = await s.client();
  const accounts = [testAccount(s, 0)];
  for (let n = 1; n < count; n++) {
    const account = testAccount(s, n);
    await deviceLogin(s, c, account);
    accounts.push(account);
  }
  return { s, backend, daemon, c, accounts };
}
