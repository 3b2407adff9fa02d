// Several accounts (see docs/accounts.md): who a login is (its key), what it is called, and
// what `account/list` says of it.
import type { AccountSummary } from '../../shared/protocol.js';
import { expiryMs, identityOf, isoTime } from '../auth/jwt.js';
import type { AuthRecord } from '../auth/store.js';
import { sha256Hex } from '../../shared/sha256.js';

function digest(text: string): string {
  return sha256Hex(text).slice(0, 16);
}

/**
 * Who a login is: a ChatGPT account by its account id and user, an API key by a fingerprint of
 * the key (never the key). Also the name of the account's file, so nothing a user or an issuer
 * wrote ends up in a path.
 */
export function accountKey(record: AuthRecord): string {
  if (record.auth_mode === 'apikey') return `apikey-${digest(record.OPENAI_API_KEY ?? '')}`;
  const identity = identityOf(record.tokens?.id_token ?? '');
  return `chatgpt-${digest(`${record.tokens?.account_id ?? identity.accountId ?? ''}\n${identity.userId ?? ''}`)}`;
}

/** The email, or `apikey-<last 4>`, made a valid name. */
function defaultName(record: AuthRecord): string {
  const base = record.auth_mode === 'apikey' ? `apikey-${(record.OPENAI_API_KEY ?? '').slice(-4)}` : (identityOf(record.tokens?.id_token ?? '').email ?? 'chatgpt');
  const cleaned = base.replace(/[^A-Za-z0-9._@+-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 60);
  return cleaned || 'account';
}

/**
 * A name for every account: the one it was given, else its default, numbered (-2, -3…) when
 * another account has it, or an account kept in the other credential store does. `records` come
 * in a fixed order (the active account first), so a default that is not stored yet is the same
 * from one call to the next.
 */
export function assignNames(records: Array<[string, AuthRecord]>, stored: Record<string, string>): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const [key] of records) {
    const name = stored[key];
    if (name !== undefined && !taken.has(name)) {
      names.set(key, name);
      taken.add(name);
    }
  }
  for (const name of Object.values(stored)) taken.add(name);
  for (const [key, record] of records) {
    if (names.has(key)) continue;
    const base = defaultName(record);
    let name = base;
    for (let n = 2; taken.has(name); n++) name = `${base}-${n}`;
    names.set(key, name);
    taken.add(name);
  }
  return names;
}

/** What `account/list` says of one login. */
export function summarize(name: string, record: AuthRecord, active: boolean, state: AccountSummary['state']): AccountSummary {
  const lastRefresh = record.last_refresh ?? null;
  if (record.auth_mode === 'apikey') return { name, type: 'apiKey', email: null, planType: null, active, accessTokenExpiresAt: null, lastRefresh, state };
  const identity = identityOf(record.tokens!.id_token);
  return {
    name,
    type: 'chatgpt',
    email: identity.email,
    planType: identity.planType,
    active,
    accessTokenExpiresAt: isoTime(expiryMs(record.tokens!.access_token)),
    lastRefresh,
    state,
  };
}
