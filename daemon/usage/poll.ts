// The usage poll: runs while at least one holder (a subscribed client, or the switch threshold)
// wants it, at once when the first one arrives, then every interval. What a round fetches, and
// that no account is asked more than once a minute, is the UsageService's.
export class PollSchedule {
  private holders = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly round: () => void,
  ) {}

  get running(): boolean {
    return this.holders > 0;
  }

  /** Holds the poll running; the function returned lets go (once, however often it is called). */
  hold(): () => void {
    if (++this.holders === 1) this.tick();
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      if (--this.holders === 0) this.stop();
    };
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    this.round();
    this.timer = setTimeout(() => this.tick(), this.intervalMs);
    this.timer.unref();
  }
}
