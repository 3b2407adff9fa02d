// A failure that repeats (an upstream that keeps sending what it must not, many times a second)
// must not fill the log: its reason is logged the first time, repeats are only counted, and the
// count is logged when the reason changes or the failure ends (and at 10, 100, 1000… repeats, so
// that a failure that never ends still shows in the log that it goes on).
import type { Logger } from './log.js';

function isPowerOfTen(n: number): boolean {
  return n >= 10 && /^10*$/.test(String(n));
}

export class RepeatedFailure {
  private reason: string | null = null;
  private times = 0;

  constructor(private readonly log: Logger) {}

  /** Logs `reason` unless it is the one logged last; a repeat is counted. */
  failed(reason: string): void {
    if (reason === this.reason) {
      this.times += 1;
      if (isPowerOfTen(this.times)) this.log.warn({ times: this.times }, `${reason} (${this.times} times in a row so far)`);
      return;
    }
    this.ended();
    this.reason = reason;
    this.times = 1;
    this.log.warn(reason);
  }

  /** The failure stopped (or another took its place): logs how often it happened, when it repeated since last said. */
  ended(): void {
    if (this.reason !== null && this.times > 1 && !isPowerOfTen(this.times)) this.log.warn({ times: this.times }, `${this.reason} (${this.times} times in a row in all)`);
    this.reason = null;
    this.times = 0;
  }
}
