// One `account/updated` per change a client can see, for the account service and the follower
// alike: sent when the status, or the login behind it (a refresh that leaves every field of the
// status as it was, say), differs from the last one sent.
import type { Status } from '../../shared/protocol.js';
import type { AccountSlot } from './slot.js';

export class StatusAnnouncer {
  private last = '';

  constructor(
    /** The slot whose login the status is about. */
    private readonly slot: AccountSlot,
    private readonly status: () => Status,
    private readonly send: (status: Status) => void,
  ) {}

  announce(): void {
    const status = this.status();
    const { loaded } = this.slot;
    const key = `${loaded.kind === 'missing' ? '' : loaded.raw}\u0000${JSON.stringify(status)}`;
    if (key === this.last) return;
    this.last = key;
    this.send(status);
  }
}
