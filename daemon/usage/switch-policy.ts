// When to switch the active account before a usage limit stops the work, and to which (SWITCH_AT,
// docs/usage.md): once the active account's 5-hour or weekly window reaches the threshold, or the
// backend says a limit is reached, to the account with the most headroom among those whose windows
// are both below it. An account switched away from is not switched back to until the window that
// sent it away has reset (no flip-flop); when no account is below the threshold, nobody moves and
// that is said once. Pure: the clock and what is known are arguments.
import type { RateLimitSnapshot } from '../../shared/protocol.js';

export interface AccountLimits {
  name: string;
  /** The last known snapshot; null when none is known (such an account is never switched to). */
  snapshot: RateLimitSnapshot | null;
}

export type Decision =
  | { kind: 'stay' }
  | { kind: 'switch'; to: string; reason: string; holdBackUntil: number }
  | { kind: 'allNear'; reason: string };

interface Trip {
  why: string;
  /** When the windows that tripped reset, in ms (the latest of them); null when unknown. */
  resetsAt: number | null;
}

/** Why `snapshot` is at or past the threshold, or null when it is not. */
function trip(snapshot: RateLimitSnapshot, threshold: number): Trip | null {
  const windows = [
    ['5-hour', snapshot.primary],
    ['weekly', snapshot.secondary],
  ] as const;
  const over = windows.filter(([, window]) => window !== null && window.usedPercent >= threshold);
  const resets = over.map(([, window]) => (window!.resetsAt === null ? null : window!.resetsAt * 1000));
  const resetsAt = resets.length > 0 && resets.every((at) => at !== null) ? Math.max(...(resets as number[])) : null;
  if (snapshot.rateLimitReachedType) {
    return { why: `the backend says its limit is reached (${snapshot.rateLimitReachedType})`, resetsAt: resetsAt ?? latestReset(snapshot) };
  }
  if (over.length === 0) return null;
  return { why: `its ${over.map(([label, window]) => `${label} window is at ${window!.usedPercent}%`).join(' and its ')}`, resetsAt };
}

function latestReset(snapshot: RateLimitSnapshot): number | null {
  const resets = [snapshot.primary, snapshot.secondary].flatMap((window) => (window?.resetsAt == null ? [] : [window.resetsAt * 1000]));
  return resets.length > 0 ? Math.max(...resets) : null;
}

/**
 * How far the fuller window is from 100 %. The backend's figure is passed to clients as Codex
 * passes it, but a switch reads it within 0-100: an account whose backend says -50 % has no more
 * headroom than an empty one.
 */
function headroom(snapshot: RateLimitSnapshot): number {
  const used = (percent: number | undefined) => Math.min(100, Math.max(0, percent ?? 0));
  return 100 - Math.max(used(snapshot.primary?.usedPercent), used(snapshot.secondary?.usedPercent));
}

/**
 * What to do now. `heldBack`: accounts switched away from, with when they may be switched back
 * to (ms); an account with no known reset time is held back for `fallbackHoldMs`.
 */
export function decide(active: AccountLimits, others: AccountLimits[], threshold: number, heldBack: ReadonlyMap<string, number>, now: number, fallbackHoldMs = 5 * 3600_000): Decision {
  if (!active.snapshot) return { kind: 'stay' };
  const tripped = trip(active.snapshot, threshold);
  if (!tripped) return { kind: 'stay' };
  const candidates = others
    .filter((other) => other.snapshot !== null && trip(other.snapshot, threshold) === null && (heldBack.get(other.name) ?? 0) <= now)
    .sort((a, b) => headroom(b.snapshot!) - headroom(a.snapshot!) || a.name.localeCompare(b.name));
  const best = candidates[0];
  const why = `${active.name}: ${tripped.why} (SWITCH_AT ${threshold})`;
  if (!best) return { kind: 'allNear', reason: `${why}, and no other account is below ${threshold}%: all accounts are near their limits` };
  return { kind: 'switch', to: best.name, reason: `${why}; switched to ${best.name}, the account with the most headroom (${headroom(best.snapshot!)}% left)`, holdBackUntil: tripped.resetsAt ?? now + fallbackHoldMs };
}
