// Secret scans for tests: every secret a fake issuer handed out or was sent (authorization codes,
// PKCE verifiers, state, device ids and codes, id/access/refresh tokens, exchanged API keys),
// and an assertion that none of them appears in what a test captured (daemon logs, CLI output).
//
// The fake issuer records requests but not its replies, and the replies carry most tokens. So
// `watchIssuer` (call it right after startFakeIssuer) also records what the issuer sends back
// and every token set minted for fixtures. `collectIssuerSecrets` works without it too, but then
// only sees what was sent *to* the issuer.
import assert from 'node:assert/strict';
import type { Server, ServerResponse } from 'node:http';
import type { FakeIssuer, TokenSet } from '../support/fake-issuer.js';

export interface Secret {
  /** What it is, for the failure message (never the value itself). */
  label: string;
  value: string;
}

interface Watched {
  /** Parsed JSON replies. */
  replies: Array<Record<string, unknown>>;
  /** Location headers of redirects (the consent page sends the code and state this way). */
  locations: string[];
  minted: TokenSet[];
}

const watched = new WeakMap<FakeIssuer, Watched>();

/** Shorter values could occur by chance (and the daemon does not treat them as secrets either). */
const MIN_LENGTH = 8;

/** Records the issuer's replies and minted fixtures, so `collectIssuerSecrets` sees every token. */
export function watchIssuer(issuer: FakeIssuer): FakeIssuer {
  if (watched.has(issuer)) return issuer;
  const record: Watched = { replies: [], locations: [], minted: [] };
  watched.set(issuer, record);

  // The fake keeps its http.Server private; listen in front of its own handler.
  const server = (issuer as unknown as { server?: Server }).server;
  if (!server || typeof server.prependListener !== 'function') {
    throw new Error('watchIssuer: the fake issuer no longer exposes its http server; update test/secrets.ts');
  }
  server.prependListener('request', (_req, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    const write = res.write.bind(res) as (...args: unknown[]) => boolean;
    const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
    const keep = (chunk: unknown): void => {
      if (typeof chunk === 'string') chunks.push(Buffer.from(chunk));
      else if (chunk instanceof Uint8Array) chunks.push(Buffer.from(chunk));
    };
    (res as unknown as { write: (...args: unknown[]) => boolean }).write = (...args: unknown[]) => {
      keep(args[0]);
      return write(...args);
    };
    (res as unknown as { end: (...args: unknown[]) => ServerResponse }).end = (...args: unknown[]) => {
      if (typeof args[0] !== 'function') keep(args[0]);
      const location = res.getHeader('location');
      if (typeof location === 'string') record.locations.push(location);
      try {
        const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) record.replies.push(parsed as Record<string, unknown>);
      } catch {
        // not JSON: pages and plain-text errors carry no secrets of their own
      }
      return end(...args);
    };
  });

  const mint = issuer.mintTokens.bind(issuer);
  issuer.mintTokens = (opts) => {
    const tokens = mint(opts);
    record.minted.push(tokens);
    return tokens;
  };
  return issuer;
}

/** Fields whose values are secrets, wherever they appear in a request or reply. */
const SECRET_FIELDS: Record<string, string> = {
  code: 'authorization code',
  authorization_code: 'authorization code',
  code_verifier: 'PKCE verifier',
  state: 'OAuth state',
  id_token: 'id_token',
  access_token: 'access token or API key',
  refresh_token: 'refresh token',
  subject_token: 'id_token (token exchange)',
  token: 'revoked token',
  device_auth_id: 'device auth id',
  user_code: 'device user code',
  usercode: 'device user code',
};

/** Every secret the issuer saw or (when watched) handed out, de-duplicated. */
export function collectIssuerSecrets(issuer: FakeIssuer): Secret[] {
  const found = new Map<string, string>();
  const add = (label: string, value: unknown): void => {
    if (typeof value === 'string' && value.length >= MIN_LENGTH && !found.has(value)) found.set(value, label);
  };
  const addFields = (where: string, object: Record<string, unknown>): void => {
    for (const [key, label] of Object.entries(SECRET_FIELDS)) add(`${label} (${where})`, object[key]);
  };

  for (const request of issuer.requests) {
    addFields(`sent to ${request.path}`, request.query);
    addFields(`sent to ${request.path}`, request.body);
  }
  for (const exchange of issuer.codeExchanges) add('authorization code (exchanged)', exchange.code);
  for (const revoked of issuer.revoked) add('revoked token', revoked.token);

  const record = watched.get(issuer);
  if (record) {
    for (const reply of record.replies) addFields('issuer reply', reply);
    for (const location of record.locations) {
      if (!URL.canParse(location)) continue;
      addFields('issuer redirect', Object.fromEntries(new URL(location).searchParams));
    }
    for (const tokens of record.minted) addFields('minted fixture', { ...tokens });
  }
  return [...found].map(([value, label]) => ({ label, value }));
}

/** The secrets of a token set the test made itself. */
export function secretsOf(tokens: Partial<TokenSet>, label = 'fixture'): Secret[] {
  return Object.entries(tokens)
    .filter((entry): entry is [string, string] => typeof entry[1] === 'string' && entry[1].length >= MIN_LENGTH)
    .map(([key, value]) => ({ label: `${key} (${label})`, value }));
}

/**
 * Fails, naming each leaked secret by label (never by value), when any secret occurs in `text`.
 * `shown` lists exact strings the user is meant to see (the authorize URL the CLI prints, the
 * device code): they are cut out of the text first, so only other occurrences count.
 */
export function assertNoSecrets(text: string, secrets: Secret[], options: { shown?: string[]; where?: string } = {}): void {
  assert.ok(secrets.length > 0, 'the secret scan has nothing to look for; the test collected no secrets');
  let scanned = text;
  for (const shown of options.shown ?? []) if (shown) scanned = scanned.split(shown).join('[shown to the user]');
  const leaked = secrets.filter((secret) => scanned.includes(secret.value)).map((secret) => secret.label);
  assert.deepEqual(leaked, [], `secrets found in ${options.where ?? 'the captured output'}: ${leaked.join(', ')}`);
}
