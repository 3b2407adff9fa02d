// `codex-auth usage`: each account's 5-hour and weekly windows (used, and when they reset, in
// local time and from now) and credits, as a table a person reads at a glance, or as JSON; and
// the short forms `accounts` and `status` show (docs/usage.md).
import type { CodexdClient } from '../index.js';
import type { AccountUsage, RateLimitsReadResult, RateLimitWindow } from '../../shared/protocol.js';
import { print } from './output.js';
import { UsageError } from './usage.js';

/** "2 h 13 min", "45 min", "3 days 4 h": how long until `ms` from `now`. */
export function span(ms: number, now: number): string {
  const minutes = Math.max(0, Math.round((ms - now) / 60_000));
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
  return `${Math.floor(hours / 24)} days${hours % 24 ? ` ${hours % 24} h` : ''}`;
}

/** The local time of `ms`: the time alone today, with the weekday and date otherwise. */
export function localTime(ms: number, now: number): string {
  const date = new Date(ms);
  const time = date.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  if (date.toDateString() === new Date(now).toDateString()) return time;
  return `${date.toLocaleDateString(undefined, { weekday: 'short', day: 'numeric', month: 'short' })} ${time}`;
}

/** "42% (resets 14:30, in 2 h 13 min)", or "-" when the backend gives no such window. */
export function describeWindow(window: RateLimitWindow | null, now: number): string {
  if (!window) return '-';
  if (window.resetsAt === null) return `${window.usedPercent}%`;
  const resets = window.resetsAt * 1000;
  return `${window.usedPercent}% (resets ${localTime(resets, now)}, in ${span(resets, now)})`;
}

function credits(usage: RateLimitsReadResult): string {
  const { credits: c } = usage.rateLimits;
  if (!c) return '-';
  if (c.unlimited) return 'unlimited';
  return c.hasCredits ? (c.balance ?? 'yes') : 'none';
}

function age(usage: RateLimitsReadResult): string {
  if (usage.ageS < 60) return 'now';
  return `${span(Date.now() + usage.ageS * 1000, Date.now())} ago`;
}

/** "42% / 7%": the 5-hour and weekly windows' use, for `accounts`. */
export function percentages(usage: RateLimitsReadResult | null): string {
  if (!usage) return '-';
  const { primary, secondary } = usage.rateLimits;
  return `${primary ? `${primary.usedPercent}%` : '-'} / ${secondary ? `${secondary.usedPercent}%` : '-'}`;
}

/** One line for `status`: both windows and when they reset. */
export function describeUsageLine(usage: RateLimitsReadResult, now = Date.now()): string {
  const { primary, secondary } = usage.rateLimits;
  const reached = usage.rateLimits.rateLimitReachedType ? `, limit reached (${usage.rateLimits.rateLimitReachedType})` : '';
  return `5-hour ${describeWindow(primary, now)}, weekly ${describeWindow(secondary, now)}${reached}`;
}

/** The table: one row per account, `*` for the active one. */
export function describeUsage(rows: AccountUsage[], now = Date.now()): string {
  const table = rows.map((row) => {
    const mark = row.active ? '*' : ' ';
    if (row.type === 'apiKey') return [mark, row.name, '-', 'API key: no ChatGPT usage', '', '', ''];
    if (!row.usage) return [mark, row.name, '-', row.error ? 'unavailable (below)' : 'unknown', '', '', ''];
    const { usage } = row;
    return [mark, row.name, usage.rateLimits.planType ?? '-', describeWindow(usage.rateLimits.primary, now), describeWindow(usage.rateLimits.secondary, now), credits(usage), age(usage)];
  });
  const all = [[' ', 'ACCOUNT', 'PLAN', '5-HOUR', 'WEEKLY', 'CREDITS', 'AS OF'], ...table];
  const widths = all[0]!.map((_, column) => Math.max(...all.map((row) => row[column]!.length)));
  const lines = all.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd());
  for (const row of rows) if (row.error) lines.push(`${row.name}: ${row.error}`);
  const reached = rows.filter((row) => row.usage?.rateLimits.rateLimitReachedType);
  for (const row of reached) lines.push(`${row.name}: limit reached (${row.usage!.rateLimits.rateLimitReachedType})`);
  return lines.join('\n');
}

export async function usageCommand(client: CodexdClient, options: { json: boolean; all: boolean; account: string | undefined }): Promise<number> {
  if (options.all && options.account !== undefined) throw new UsageError('give --account NAME or --all, not both');
  if (options.all) {
    const rows = await client.usage({ refresh: true });
    if (rows.length === 0) {
      process.stderr.write('No accounts. Run `codex-auth login` to add one.\n');
      return 1;
    }
    print(options.json, rows, describeUsage(rows));
    return rows.some((row) => row.error) ? 1 : 0;
  }
  const usage = await client.rateLimits(options.account === undefined ? {} : { account: options.account });
  if (options.json) print(true, usage, '');
  else print(false, usage, describeUsage([{ name: usage.account ?? 'active account', type: 'chatgpt', active: usage.active, usage, error: null }]));
  return 0;
}
