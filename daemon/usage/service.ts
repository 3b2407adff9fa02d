// Every account's usage and limits (docs/usage.md): read from the ChatGPT backend with the
// account's fresh token, cached per account for the cache time, one request in flight per
// account however many clients ask, `updated` whenever an account's usage changes, and a poll
// while someone has subscribed. The only writer of the cache.
import { EventEmitter } from 'node:events';
import type { AccountSummary, AccountUsage, RateLimitsReadResult, RateLimitsResponse, RateLimitsUpdated, TokenResult, UsageListResult } from '../../shared/protocol.js';
import { AccountNotFound, NoChatgptUsage, UsageUnavailable } from '../errors.js';
import type { Logger } from '../runtime/log.js';
import type { UsageBackend } from './backend.js';
import { PollSchedule } from './poll.js';

/** What usage needs of the accounts: the AccountService, or a Follower (which lists none: its accounts are upstream). */
export interface UsageAccounts {
  list(): AccountSummary[];
  token(forceRefresh: boolean, name?: string): TokenResult | Promise<TokenResult>;
}

export interface UsageOptions {
  /** An answer younger than this is served from the cache. */
  cacheMs: number;
  /** The poll's interval, and the least time between two polls of one account (at least a minute). */
  pollMs: number;
}

/** The account a request is about: `name` null on a follower, whose one account has no name here. */
interface Target {
  key: string;
  name: string | null;
}

interface Entry {
  known: { response: RateLimitsResponse; fetchedAt: number } | null;
  error: string | null;
  inFlight: Promise<void> | null;
  /** When the backend was last asked for it (answered or not). */
  askedAt: number;
  /** The last snapshot announced, as JSON. */
  announced: string;
}

export interface UsageEvents {
  updated: [RateLimitsUpdated];
}

export class UsageService extends EventEmitter<UsageEvents> {
  private readonly entries = new Map<string, Entry>();
  private readonly poll: PollSchedule;

  constructor(
    private readonly accounts: UsageAccounts,
    private readonly backend: Pick<UsageBackend, 'fetch'>,
    private readonly options: UsageOptions,
    private readonly log: Logger,
  ) {
    super();
    this.poll = new PollSchedule(options.pollMs, () => this.pollRound());
  }

  /** The usage of the account `name` (default: the active one), from the cache when young enough. */
  async read(name?: string): Promise<RateLimitsReadResult> {
    const target = this.target(name);
    const entry = this.entry(target.key);
    if (!entry.known || Date.now() - entry.known.fetchedAt >= this.options.cacheMs) await this.fetch(target, entry);
    return answer(target, entry.known!, this.isActive(target));
  }

  /** Every account with its usage: what is known, or (`refresh`) asked anew where older than the cache time. */
  async list(refresh: boolean): Promise<UsageListResult> {
    const accounts = this.accounts.list();
    this.forgetOthers(accounts);
    const rows = await Promise.all(
      accounts.map(async (account): Promise<AccountUsage> => {
        if (account.type === 'apiKey') return { name: account.name, type: account.type, active: account.active, usage: null, error: null };
        if (refresh) await this.read(account.name).catch(() => undefined); // the error is in the entry
        const entry = this.entries.get(account.name);
        const known = entry?.known ? answer({ key: account.name, name: account.name }, entry.known, account.active) : null;
        return { name: account.name, type: account.type, active: account.active, usage: known, error: entry?.error ?? null };
      }),
    );
    return { accounts: rows };
  }

  /** Keeps the poll running until the function returned is called. */
  subscribe(): () => void {
    return this.poll.hold();
  }

  stop(): void {
    this.poll.stop();
  }

  /** One poll round: every ChatGPT account not asked within the poll interval. */
  private pollRound(): void {
    const accounts = this.accounts.list();
    this.forgetOthers(accounts);
    const targets: Target[] = accounts.length === 0 ? [{ key: '', name: null }] : accounts.filter((a) => a.type === 'chatgpt').map((a) => ({ key: a.name, name: a.name }));
    for (const target of targets) {
      const entry = this.entry(target.key);
      if (entry.inFlight || Date.now() - entry.askedAt < this.options.pollMs) continue;
      this.fetch(target, entry).catch((error: Error) => this.log.debug({ account: target.name }, `usage poll: ${error.message}`));
    }
  }

  private target(name: string | undefined): Target {
    const accounts = this.accounts.list();
    if (name === undefined) {
      const active = accounts.find((account) => account.active);
      if (active?.type === 'apiKey') throw noUsage(active.name);
      // No list: a follower, whose one account is the upstream's active one (or none: token() says so).
      return active ? { key: active.name, name: active.name } : { key: '', name: null };
    }
    const account = accounts.find((candidate) => candidate.name === name);
    if (!account) throw new AccountNotFound(`No account is named "${name}"; \`codex-auth accounts\` lists them.`);
    if (account.type === 'apiKey') throw noUsage(name);
    return { key: name, name };
  }

  private entry(key: string): Entry {
    let entry = this.entries.get(key);
    if (!entry) this.entries.set(key, (entry = { known: null, error: null, inFlight: null, askedAt: -Infinity, announced: '' }));
    return entry;
  }

  /** Asks the backend, once however many ask at the same time. */
  private fetch(target: Target, entry: Entry): Promise<void> {
    entry.inFlight ??= (async () => {
      entry.askedAt = Date.now();
      const credential = await this.accounts.token(false, target.name ?? undefined);
      if (credential.type === 'apiKey') throw noUsage(target.name);
      try {
        const response = await this.backend.fetch(credential);
        entry.known = { response, fetchedAt: Date.now() };
        entry.error = null;
      } catch (error) {
        if (!(error instanceof UsageUnavailable)) throw error;
        entry.error = `Could not read the usage of ${target.name ?? 'the active account'}: ${error.message}`;
        this.log.warn({ account: target.name }, entry.error);
        throw new UsageUnavailable(entry.error);
      }
      this.announce(target, entry);
    })().finally(() => (entry.inFlight = null));
    return entry.inFlight;
  }

  private announce(target: Target, entry: Entry): void {
    const snapshot = JSON.stringify(entry.known!.response.rateLimits);
    if (snapshot === entry.announced) return;
    entry.announced = snapshot;
    this.emit('updated', { rateLimits: entry.known!.response.rateLimits, account: target.name, active: this.isActive(target), fetchedAt: new Date(entry.known!.fetchedAt).toISOString() });
  }

  private isActive(target: Target): boolean {
    return target.name === null || this.accounts.list().some((account) => account.name === target.name && account.active);
  }

  /** Accounts logged out since: their usage is forgotten. */
  private forgetOthers(accounts: AccountSummary[]): void {
    if (accounts.length === 0) return;
    const names = new Set(accounts.map((account) => account.name));
    for (const key of this.entries.keys()) if (!names.has(key)) this.entries.delete(key);
  }
}

function noUsage(name: string | null): NoChatgptUsage {
  return new NoChatgptUsage(`${name ?? 'The active account'} is an API key: API keys have no ChatGPT usage or limits (see the OpenAI platform's usage page for the key)`);
}

function answer(target: Target, known: { response: RateLimitsResponse; fetchedAt: number }, active: boolean): RateLimitsReadResult {
  return { ...known.response, account: target.name, active, fetchedAt: new Date(known.fetchedAt).toISOString(), ageS: Math.max(0, Math.floor((Date.now() - known.fetchedAt) / 1000)) };
}
