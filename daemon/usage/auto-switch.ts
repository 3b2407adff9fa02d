// SWITCH_AT (docs/usage.md): keeps every account's usage polled (at most once a minute each) and,
// whenever the active account's usage or the login changes, asks the policy (./switch-policy.ts)
// whether to switch, then switches through the one switch entry point, with the reason. Never in
// the middle of a refresh or a login: then it waits for the next change. One evaluation at a time.
import type { AccountSummary, Status, UsageListResult } from '../../shared/protocol.js';
import type { Logger } from '../runtime/log.js';
import { decide } from './switch-policy.js';

/** What SWITCH_AT needs of the accounts: the AccountService. */
export interface SwitchableAccounts {
  status(): Status;
  switchTo(name: string, because: string): Promise<AccountSummary>;
  noteLimits(from: string, reason: string): void;
  on(event: 'updated', listener: () => void): unknown;
}

/** What it needs of usage: the UsageService. */
export interface KnownUsage {
  list(refresh: boolean): Promise<UsageListResult>;
  subscribe(): () => void;
  on(event: 'updated', listener: () => void): unknown;
}

export class AutoSwitch {
  /** Accounts switched away from, and when they may be switched back to (ms). */
  private readonly heldBack = new Map<string, number>();
  private running: Promise<void> | null = null;
  private again = false;
  /** The last "all accounts near their limits" said, so that it is said once. */
  private lastNotice = '';
  private release: (() => void) | null = null;

  constructor(
    private readonly accounts: SwitchableAccounts,
    private readonly usage: KnownUsage,
    private readonly threshold: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.release = this.usage.subscribe();
    this.usage.on('updated', () => this.evaluate());
    this.accounts.on('updated', () => this.evaluate());
  }

  stop(): void {
    this.release?.();
  }

  /** Runs one evaluation, or one more after the one running now; resolves when done (for tests). */
  evaluate(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = this.once()
      .catch((error: Error) => this.log.warn(`SWITCH_AT: could not switch accounts: ${error.message}`))
      .finally(() => {
        this.running = null;
        if (this.again) {
          this.again = false;
          void this.evaluate();
        }
      });
    return this.running;
  }

  private async once(): Promise<void> {
    const status = this.accounts.status();
    const rows = (await this.usage.list(false)).accounts;
    const active = rows.find((row) => row.active);
    if (!active || active.type !== 'chatgpt') return;
    // An account that needs a new sign-in is never switched to: its snapshot counts as unknown.
    const usable = new Set(status.accounts.filter((account) => account.state !== 'reauthRequired').map((account) => account.name));
    const others = rows.filter((row) => !row.active && row.type === 'chatgpt').map((row) => ({ name: row.name, snapshot: usable.has(row.name) ? (row.usage?.rateLimits ?? null) : null }));
    const now = Date.now();
    for (const [name, until] of this.heldBack) if (until <= now) this.heldBack.delete(name);
    const decision = decide({ name: active.name, snapshot: active.usage?.rateLimits ?? null }, others, this.threshold, this.heldBack, now);
    if (decision.kind === 'stay') {
      this.lastNotice = '';
      return;
    }
    if (decision.kind === 'allNear') {
      if (decision.reason === this.lastNotice) return;
      this.lastNotice = decision.reason;
      this.accounts.noteLimits(active.name, decision.reason);
      return;
    }
    const target = status.accounts.find((account) => account.name === decision.to);
    if (status.login !== null || status.state === 'refreshing' || target?.state === 'refreshing') {
      this.log.debug({ to: decision.to }, 'SWITCH_AT: waiting for the refresh or login in progress to end before switching');
      return; // their end is announced, which evaluates again
    }
    this.heldBack.set(active.name, decision.holdBackUntil);
    this.lastNotice = '';
    await this.accounts.switchTo(decision.to, decision.reason);
  }
}
