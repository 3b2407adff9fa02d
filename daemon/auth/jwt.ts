// Reads JWT claims the way Codex does: no signature check, just the payload.

export type Claims = Record<string, unknown>;

/** The payload of a compact JWT, or null when `token` is not three non-empty parts with a JSON payload. */
export function decodeJwt(token: string): Claims | null {
  const parts = token.split('.');
  if (parts.length !== 3 || parts.some((part) => part.length === 0)) return null;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8'));
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Claims) : null;
  } catch {
    return null;
  }
}

function record(value: unknown): Claims {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Claims) : {};
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value ? value : null;
}

const KNOWN_PLANS = new Set(['free', 'go', 'plus', 'pro', 'team', 'business', 'enterprise', 'education']);
const PLAN_ALIASES: Record<string, string> = { hc: 'enterprise', edu: 'education' };

export interface IdentityClaims {
  email: string | null;
  planType: string | null;
  accountId: string | null;
  userId: string | null;
}

/** Who an id_token names; every field null when it does not decode. */
export function identityOf(idToken: string): IdentityClaims {
  const claims = decodeJwt(idToken) ?? {};
  const auth = record(claims['https://api.openai.com/auth']);
  const profile = record(claims['https://api.openai.com/profile']);
  const raw = text(auth['chatgpt_plan_type'])?.toLowerCase() ?? null;
  const plan = raw === null ? null : (PLAN_ALIASES[raw] ?? raw);
  return {
    email: text(claims['email']) ?? text(profile['email']),
    planType: plan === null ? null : KNOWN_PLANS.has(plan) ? plan : 'unknown',
    accountId: text(auth['chatgpt_account_id']),
    userId: text(auth['chatgpt_user_id']) ?? text(auth['user_id']),
  };
}

// account/token asks for the same access token's expiry on every call; decode it once.
let cachedToken = '';
let cachedExpiry: number | null = null;

/**
 * The range of times (ms) taken as real: an `exp` or a `last_refresh` outside it (negative, beyond
 * what a Date can hold) is treated as unreadable.
 */
const SANE_MS = { min: Date.UTC(2000, 0, 1), max: Date.UTC(2200, 0, 1) };

/** `ms` when it is a time in the sane range, else null (NaN included). */
export function saneTimeMs(ms: number): number | null {
  return ms >= SANE_MS.min && ms <= SANE_MS.max ? ms : null;
}

/** The `exp` claim in milliseconds since the epoch, or null when it is missing or not a sane time. */
export function expiryMs(token: string): number | null {
  if (token !== cachedToken) {
    const exp = decodeJwt(token)?.['exp'];
    cachedExpiry = typeof exp === 'number' ? saneTimeMs(exp * 1000) : null;
    cachedToken = token;
  }
  return cachedExpiry;
}

/** `ms` as an ISO 8601 time, as the protocol gives times; null stays null. */
export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
