// Capped exponential backoff: min, 2×min, 4×min … up to max, and min again after reset().
export class Backoff {
  private nextMs: number;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    this.nextMs = Math.min(minMs, maxMs);
  }

  /** The wait before the next attempt. */
  next(): number {
    const wait = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs);
    return wait;
  }

  reset(): void {
    this.nextMs = Math.min(this.minMs, this.maxMs);
  }
}
