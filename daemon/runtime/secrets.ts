// Every secret the daemon has seen (tokens, keys, codes, verifiers, state) is registered here,
// and everything that leaves the daemon passes through `scrub` where it leaves: every log line
// (runtime/log.ts), every response and notification sent to a client (rpc/server.ts), every page of the
// login callback (login/callback-server.ts).
// Field-based redaction in the logger catches known keys; this catches a secret that reached
// a message by any other route (an issuer echoing a token in an error body, say).
// The registry must not grow with use: it keeps the secrets of the logins held now (the active
// one and every inactive account) for as long as they are held, and the others in a small
// window of the most recent ones.
const held = new Map<object, Set<string>>();
const recent = new Set<string>();
let recentChars = 0;

/** Shorter values are too likely to occur by chance to be worth scrubbing. */
const MIN_SECRET_LENGTH = 8;
/** The window of recent secrets: enough for a login in progress and the tokens it replaced. */
const RECENT_MAX_ENTRIES = 64;
const RECENT_MAX_CHARS = 1024 * 1024;

export function registerSecret(value: string | null | undefined): void {
  if (!value || value.length < MIN_SECRET_LENGTH) return;
  if (recent.delete(value)) recentChars -= value.length;
  recent.add(value);
  recentChars += value.length;
  for (const oldest of recent) {
    if (recent.size <= RECENT_MAX_ENTRIES && recentChars <= RECENT_MAX_CHARS) break;
    recent.delete(oldest);
    recentChars -= oldest.length;
  }
}

/** The secrets of the login `owner` holds now; those it held before join the recent window. */
export function holdSecrets(owner: object, values: ReadonlyArray<string | null | undefined>): void {
  const previous = held.get(owner) ?? new Set<string>();
  const now = new Set<string>();
  for (const value of values) if (value && value.length >= MIN_SECRET_LENGTH) now.add(value);
  held.set(owner, now);
  for (const value of previous) if (!now.has(value)) registerSecret(value);
}

/** `owner` holds nothing any more (an account logged out or moved): its secrets join the recent window. */
export function releaseSecrets(owner: object): void {
  holdSecrets(owner, []);
  held.delete(owner);
}

/** `value` with every string in it scrubbed, on a copy: for results and notifications sent to clients. */
export function scrubStrings(value: unknown): unknown {
  if (typeof value === 'string') return scrub(value);
  if (Array.isArray(value)) return value.map(scrubStrings);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrubStrings(item)]));
}

export function scrub(text: string): string {
  let out = text;
  for (const secrets of [...held.values(), recent]) {
    for (const secret of secrets) {
      if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
    }
  }
  return out;
}
