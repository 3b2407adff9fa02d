// `codex-auth accounts`, `switch` and `logout`: the accounts codexd keeps, which one Codex uses,
// and removing them.
import type { CodexdClient } from '../index.js';
import type { AccountSummary, AccountUsage } from '../../shared/protocol.js';
import { printable, when } from './format.js';
import { print } from './output.js';
import { percentages } from './usage-command.js';
import { UsageError } from './usage.js';

/** One line per account, in columns; `*` marks the active one; the 5-hour and weekly use, when `usage` knows any. */
export function describeAccounts(accounts: AccountSummary[], now = Date.now(), usage: AccountUsage[] = []): string {
  const used = new Map(usage.flatMap((row) => (row.usage ? [[row.name, row.usage] as const] : [])));
  const rows = accounts.map((account) => [
    account.active ? '*' : ' ',
    account.name,
    account.type,
    account.email ?? '-',
    account.planType ?? '-',
    account.accessTokenExpiresAt ? when(account.accessTokenExpiresAt, now) : '-',
    ...(used.size > 0 ? [percentages(used.get(account.name) ?? null)] : []),
    account.state,
  ]);
  const table = [[' ', 'NAME', 'TYPE', 'EMAIL', 'PLAN', 'TOKEN EXPIRES', ...(used.size > 0 ? ['5H / WEEK'] : []), 'STATE'], ...rows];
  const widths = table[0]!.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  return table.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ')).join('\n');
}

function who(account: AccountSummary): string {
  if (account.type === 'apiKey') return 'API key';
  return `${account.email ?? 'unknown email'}${account.planType ? `, ${account.planType}` : ''}`;
}

/** A follower keeps no accounts of its own: they are its upstream's. */
async function noAccounts(client: CodexdClient): Promise<string> {
  const { upstream } = await client.read();
  if (upstream) return `No accounts here: this codexd follows the upstream codexd on ${upstream.path}, where the accounts live; run \`codex-auth accounts\` there.`;
  return 'No accounts. Run `codex-auth login` to add one.';
}

export async function accountsCommand(client: CodexdClient, json: boolean): Promise<number> {
  const accounts = await client.accounts();
  if (json) print(true, accounts, '');
  else if (accounts.length === 0) process.stdout.write(`${printable(await noAccounts(client))}\n`);
  else print(false, accounts, describeAccounts(accounts, Date.now(), await client.usage().catch(() => [])));
  return accounts.length > 0 ? 0 : 1;
}

export async function switchCommand(client: CodexdClient, name: string): Promise<number> {
  const account = await client.switchAccount(name);
  process.stdout.write(`${printable(`Switched to ${account.name} (${who(account)})`)}\n`);
  if (account.state === 'reauthRequired') process.stderr.write(`codex-auth: ${printable(`Warning: ${account.name} needs a new sign-in: run \`codex-auth login --name ${account.name}\``)}\n`);
  return 0;
}

export async function logoutCommand(client: CodexdClient, name: string | undefined, all: boolean): Promise<number> {
  if (name !== undefined && all) throw new UsageError('give an account name or --all, not both');
  const before = await client.read();
  const active = before.accounts.find((account) => account.active);
  const result = await client.logout(all ? { all } : name === undefined ? {} : { name });
  if (result.warning) process.stderr.write(`codex-auth: Warning: ${printable(result.warning)}\n`);
  if (result.movedAside) {
    process.stdout.write(`Not logged in: ${printable(before.reauthReason ?? 'auth.json could not be used')}. Moved it to ${printable(result.movedAside)}\n`);
  } else if (all) {
    process.stdout.write(before.accounts.length > 0 ? `Logged out of every account (${before.accounts.length})\n` : 'Not logged in\n');
  } else if (name !== undefined) {
    process.stdout.write(`${printable(`Logged out of ${name}`)}\n`);
  } else {
    process.stdout.write(before.account ? 'Successfully logged out\n' : 'Not logged in\n');
  }
  const others = before.accounts.filter((account) => !account.active && account.name !== name && !all);
  const now = result.activated === undefined ? undefined : others.find((account) => account.name === result.activated);
  if (now) {
    process.stdout.write(`${printable(`${now.name} (${who(now)}) is the active account now (the one Codex uses); \`codex-auth switch NAME\` picks another`)}
`);
  } else if ((name === undefined || name === active?.name) && active && others.length > 0) {
    process.stdout.write(`${printable(`No account is active now; \`codex-auth switch NAME\` makes one active (${others.map((account) => account.name).join(', ')})`)}\n`);
  }
  return 0;
}
