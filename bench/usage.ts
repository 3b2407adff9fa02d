// `codex-auth usage --all` for five ChatGPT accounts with a warm cache, against `codex-auth status`,
// as whole processes in alternating rounds (docs/usage.md). The accounts are device-code logins at
// the fake issuer; their usage comes from the fake backend, once, before the timed rounds (the
// cache holds it for the whole run, and the backend counts that no timed round asked it).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type LoginCompleted } from '../client/index.js';
import { startFakeBackend, usagePayload } from '../support/fake-backend.js';
import type { FakeIssuer } from '../support/fake-issuer.js';
import { timeProcess, type Timed } from './coldstart.js';
import { atMost, cliBin, exactlyAll, figure, sandbox, startDaemon, writeLogin, type Figure } from './lib.js';

export interface UsageBenchOptions {
  issuer: FakeIssuer;
  root: string;
  accounts: number;
  warmup: number;
  runs: number;
  progress(label: string): void;
}

export async function usageBench(options: UsageBenchOptions): Promise<Figure[]> {
  const { issuer } = options;
  const backend = await startFakeBackend();
  const box = sandbox(options.root, 'usage', { CODEXD_ISSUER: issuer.url, CODEXD_USAGE_CACHE_S: '3600' });
  mkdirSync(box.codexHome, { recursive: true, mode: 0o700 });
  writeFileSync(join(box.codexHome, 'config.toml'), `chatgpt_base_url = "${backend.url}/backend-api/"\n`, { mode: 0o600 });
  writeLogin(issuer, box.codexHome);
  const daemon = await startDaemon(box);
  const original = issuer.account;
  try {
    options.progress(`usage: ${options.accounts} accounts (device-code logins)`);
    const client = await connect({ socket: box.socket, autostart: false });
    for (let n = 1; n < options.accounts; n++) {
      issuer.account = { email: `bench${n}@example.com`, planType: 'plus', accountId: `acct_bench_${n}`, userId: `user_bench_${n}` };
      issuer.devicePendingPolls = 0;
      const done = new Promise<LoginCompleted>((resolve) => client.onLoginCompleted(resolve));
      await client.loginStart({ type: 'chatgptDeviceCode', keepAfterDisconnect: true });
      const result = await done;
      if (!result.success) throw new Error(`bench login failed: ${result.error}`);
      backend.scriptUsage(issuer.account.accountId, { body: usagePayload({ primary: { usedPercent: n * 10 }, secondary: { usedPercent: n } }) });
    }
    const rows = await client.usage({ refresh: true });
    await client.close();
    if (rows.length !== options.accounts || rows.some((row) => !row.usage)) throw new Error(`usage --all did not read ${options.accounts} accounts: ${JSON.stringify(rows.map((r) => r.error))}`);
    const asked = backend.usageRequests().length;

    const commands = { usage: [cliBin, 'usage', '--all'], status: [cliBin, 'status'] };
    const kinds = Object.keys(commands) as Array<keyof typeof commands>;
    const runs: Record<keyof typeof commands, Timed[]> = { usage: [], status: [] };
    options.progress('usage: warm-up');
    for (let i = 0; i < options.warmup; i++) for (const kind of kinds) await timeProcess(commands[kind], box.env);
    options.progress(`usage: ${options.runs} alternating rounds`);
    for (let i = 0; i < options.runs; i++) {
      for (let k = 0; k < kinds.length; k++) {
        const kind = kinds[(i + k) % kinds.length]!;
        runs[kind].push(await timeProcess(commands[kind], box.env));
      }
    }
    const group = `codex-auth usage --all (${options.accounts} accounts, warm cache)`;
    return [
      figure(group, '`codex-auth usage --all`', 'ms', runs.usage.map((run) => run.ms)),
      figure(group, '`codex-auth status`', 'ms', runs.status.map((run) => run.ms)),
      figure(group, 'ratio usage --all / status', '×', runs.usage.map((run, i) => run.ms / runs.status[i]!.ms), atMost(1.2, '< 1.2×'), 'median of per-round ratios'),
      figure(group, 'backend requests during the timed rounds', 'count', [backend.usageRequests().length - asked], exactlyAll(0, '0: all from the cache')),
    ];
  } finally {
    issuer.account = original;
    await daemon.stop();
    await backend.close();
  }
}
