// Notices outside changes of the keyring entry (Codex logging in or refreshing, another tool):
// the Secret Service has no change notice codexd could wait on cheaply, so while config.toml puts
// the login in the keyring (keyring or auto mode) the entry is read every KEYRING_POLL_MS. What
// that costs is in the docs/keyring.md ("Where the login lives"). A read that fails is logged once, not
// every poll, and once more when the keyring answers again.
import type { CodexConfig } from '../auth/codex-config.js';
import type { Logger } from '../runtime/log.js';

export class KeyringPoll {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private lastProblem: string | null = null;

  constructor(
    private readonly config: CodexConfig,
    private readonly intervalMs: number,
    private readonly check: () => Promise<void>,
    private readonly log: Logger,
  ) {
    config.on('changed', () => this.arm());
    this.arm();
  }

  close(): void {
    clearInterval(this.timer);
  }

  private arm(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.config.mode === 'file') return;
    this.timer = setInterval(() => this.poll(), this.intervalMs);
    this.timer.unref();
  }

  private poll(): void {
    if (this.running) return; // a slow keyring never stacks reads
    this.running = true;
    this.check()
      .then(
        () => this.report(null),
        (error: Error) => this.report(error.message),
      )
      .finally(() => (this.running = false));
  }

  private report(problem: string | null): void {
    if (problem === this.lastProblem) return;
    if (problem) this.log.warn(`could not read the login from the OS keyring: ${problem}`);
    else this.log.info('the OS keyring answers again');
    this.lastProblem = problem;
  }
}
