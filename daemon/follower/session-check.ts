// What a follower takes from its upstream, checked before any of it reaches memory or disk. The
// upstream is another process, often on another machine: anything it sends may be hostile
// (numbers for tokens, megabytes of text, escape sequences). A session passes only when every
// field has the type, size and shape Codex's auth.json needs and its claims agree on the account;
// what passes is a fresh object holding the checked fields alone. Text from the upstream that a
// follower shows or logs goes through `foreignText` first.
import { isRecord } from '../../shared/framing.js';
import type { SessionResult } from '../../shared/protocol.js';
import { decodeJwt, identityOf, saneTimeMs } from '../auth/jwt.js';

/**
 * Longest token taken. A ChatGPT id or access token is 1–3 KiB; this leaves room for many more
 * claims while keeping auth.json far below the 1 MiB codexd reads back.
 */
export const MAX_TOKEN_CHARS = 32 * 1024;
/** Longest API key taken (OpenAI's are under 200 characters). */
export const MAX_API_KEY_CHARS = 1024;
/** Longest upstream text a follower shows or logs: an error message, a path. */
export const MAX_FOREIGN_CHARS = 200;

const MAX_ID_CHARS = 256;
const MAX_TIME_CHARS = 64;
/** A compact JWT: three base64url parts. */
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** An RFC 3339 time, as Codex writes `last_refresh` and codexd writes `expiresAt`. */
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$/;
/** Printable ASCII without spaces: API keys and account ids. */
const VISIBLE_ASCII = /^[\x21-\x7e]+$/;

export class SessionRefused extends Error {
  override name = 'SessionRefused';
}

/** `value` as a safe one-line excerpt: control characters replaced, cut to `max` characters. */
export function foreignText(value: unknown, max = MAX_FOREIGN_CHARS): string {
  const text = typeof value === 'string' ? value : String(value);
  const flat = text.slice(0, max + 1).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
  return flat.length > max ? `${flat.slice(0, max)}… (${text.length} characters in all)` : flat;
}

/** What a value is, for a refusal, without repeating what it holds. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'missing';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function refuse(why: string): never {
  throw new SessionRefused(why);
}

function boundedString(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string') refuse(`${field} is not a string (it is ${kindOf(value)})`);
  if (value.length === 0) refuse(`${field} is empty`);
  if (value.length > max) refuse(`${field} is longer than ${max} characters (${value.length})`);
  return value;
}

function jwt(value: unknown, field: string): string {
  const token = boundedString(value, field, MAX_TOKEN_CHARS);
  if (!JWT_SHAPE.test(token) || decodeJwt(token) === null) refuse(`${field} is not a JWT (three base64url parts with a JSON payload)`);
  return token;
}

function optionalId(value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null;
  const id = boundedString(value, field, MAX_ID_CHARS);
  if (!VISIBLE_ASCII.test(id)) refuse(`${field} holds characters an id never has`);
  return id;
}

/** A time the upstream read from its auth.json: one that does not parse is dropped, as Codex would not trust it either. */
function optionalTime(value: unknown, field: string): string | null {
  if (value === null || value === undefined) return null;
  const time = boundedString(value, field, MAX_TIME_CHARS);
  return RFC3339.test(time) && saneTimeMs(Date.parse(time)) !== null ? time : null;
}

/** The ChatGPT account a token's claims name, or null when it names none. */
function claimedAccount(token: string): string | null {
  const auth = decodeJwt(token)?.['https://api.openai.com/auth'];
  const id = isRecord(auth) ? auth['chatgpt_account_id'] : undefined;
  return typeof id === 'string' && id ? id : null;
}

/** The session `value` when it is one a follower can mirror; throws SessionRefused saying why not. */
export function checkSession(value: unknown): SessionResult {
  if (!isRecord(value)) refuse(`the session is not an object (it is ${kindOf(value)})`);
  const mode = value['authMode'];
  if (mode === 'apikey') {
    const apiKey = boundedString(value['apiKey'], 'apiKey', MAX_API_KEY_CHARS);
    if (!VISIBLE_ASCII.test(apiKey)) refuse('apiKey holds characters an API key never has');
    return { authMode: 'apikey', apiKey };
  }
  if (mode !== 'chatgpt') refuse(`authMode is ${typeof mode === 'string' ? `"${foreignText(mode, 40)}"` : kindOf(mode)}, not "chatgpt" or "apikey"`);
  const accessToken = jwt(value['accessToken'], 'accessToken');
  const idToken = jwt(value['idToken'], 'idToken');
  const accountId = optionalId(value['accountId'], 'accountId');
  const named = identityOf(idToken).accountId;
  if (accountId !== null && named !== null && accountId !== named) refuse(`accountId ${foreignText(accountId, 80)} is not the account its idToken names (${foreignText(named, 80)})`);
  const inAccess = claimedAccount(accessToken);
  const owner = accountId ?? named;
  if (inAccess !== null && owner !== null && inAccess !== owner) refuse(`the accessToken belongs to account ${foreignText(inAccess, 80)}, not to ${foreignText(owner, 80)}`);
  return {
    authMode: 'chatgpt',
    accessToken,
    idToken,
    accountId,
    expiresAt: optionalTime(value['expiresAt'], 'expiresAt'),
    lastRefresh: optionalTime(value['lastRefresh'], 'lastRefresh'),
  };
}
