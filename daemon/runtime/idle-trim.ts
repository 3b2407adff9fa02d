// Gives the C heap's free memory back to the system once the daemon has gone quiet. A burst of
// requests leaves glibc's heaps mostly free: the main thread's, and those of V8's worker threads
// (the optimizing compiler's and the GC's scratch memory). glibc returns a heap's free top only
// past a threshold that grows with the largest block ever freed, so without this about 0.5 MiB
// of the main heap stays after 100k requests (docs/performance.md). malloc_trim(0) hands back the
// main heap's free top and every free page inside every heap, in about 0.1-0.2 ms; a worker
// heap's free top stays, which is one reason the daemon runs with one V8 worker (client/autostart.ts).
import { trimHeap } from '../../shared/os.js';

/** How long nothing must happen before the heap is trimmed. */
export const QUIET_MS = 1000;

export class IdleTrim {
  private timer: NodeJS.Timeout | null = null;
  /** Something happened since the timer was armed. */
  private busy = false;

  constructor(private readonly trim: () => void = trimHeap) {}

  /** Something happened (a request came): trim once nothing has for QUIET_MS. Cheap enough for every request. */
  touch(): void {
    if (this.timer === null) this.arm();
    else this.busy = true;
  }

  private arm(): void {
    this.busy = false;
    // Never keeps the daemon alive, and an idle daemon has no timer of ours at all.
    this.timer = setTimeout(() => this.check(), QUIET_MS).unref();
  }

  private check(): void {
    if (this.busy) return this.arm();
    this.timer = null;
    try {
      this.trim();
    } catch {
      // A C library koffi cannot load (not glibc): nothing to give back, and no reason to stop serving.
    }
  }
}
