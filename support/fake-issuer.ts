// A fake of the OpenAI OAuth issuer (auth.openai.com) for the tests and the bench.
//
// It follows docs/codex-auth.md §2–§5: browser login with PKCE, the API-key token
// exchange, device-code login, refresh-token rotation with reuse detection, and revocation. It is
// deliberately insecure: JWT signatures are random bytes and every token is kept in memory.
//
// Beyond the real issuer's endpoints it serves two small pages a person (or Playwright) can click
// through: the consent page behind /oauth/authorize, which posts to /oauth/consent, and the device
// verification page at /codex/device.

import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface FakeAccount {
  email: string;
  planType: string;
  accountId: string;
  userId: string;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | undefined>;
  contentType: string | undefined;
  rawBody: string;
  /** Parsed as JSON or as a form according to the content type; `{}` when it can't be parsed. */
  body: Record<string, unknown>;
  /** Date.now() when the request body had been read. */
  at: number;
}

export interface ScriptedResponse {
  /** Default 200. */
  status?: number;
  /** An object is sent as JSON, a string as text/plain; no body when absent. */
  body?: string | object;
  /** Wait this long before answering (or hanging, or destroying). */
  delayMs?: number;
  /** Never answer; the socket stays open until close(). */
  hang?: boolean;
  /** Destroy the socket without a response. */
  destroy?: boolean;
}

export interface CodeExchange {
  code: string;
  pkceVerified: boolean;
  /** The redirect_uri the client sent with the exchange. */
  redirectUri: string;
}

export interface RevokedToken {
  token: string;
  token_type_hint?: string;
  client_id?: string;
}

export interface TokenSet {
  id_token: string;
  access_token: string;
  refresh_token: string;
}

export interface FakeIssuer {
  /** http://127.0.0.1:PORT */
  url: string;
  clientId: string;
  /** Every request, in order, recorded before it is handled. */
  requests: RecordedRequest[];
  /**
   * Other identities a person may sign in as: the consent and device pages offer `account` and
   * these (to try several accounts by hand: fake-issuer-main's --email).
   */
  otherAccounts: FakeAccount[];
  /** Identity put in newly minted tokens (browser and device logins, mintTokens). Refreshes keep the identity of their grant. */
  account: FakeAccount;
  /** Lifetime of minted access tokens (their `exp`), and `expires_in` of the code exchange. */
  accessTokenTtlS: number;
  /** false: POST /api/accounts/deviceauth/usercode answers 404. */
  deviceCodeEnabled: boolean;
  /** Polls answered 403 authorization_pending before a device login succeeds (unless approved at /codex/device). */
  devicePendingPolls: number;
  /** What the consent page's Continue button does. */
  consent: 'approve' | { error: string; error_description?: string };
  /** Every authorization_code exchange of a known, unused code, successful or not. */
  codeExchanges: CodeExchange[];
  revoked: RevokedToken[];
  /** Mint a complete token set for `account` (default this.account) and register its refresh token as live. For fixtures. */
  mintTokens(opts?: { accessExpiresInS?: number; account?: FakeAccount }): TokenSet;
  /** The next `times` (default 1) requests whose path equals `path` get this response instead of normal handling (still recorded). */
  script(path: string, response: ScriptedResponse, times?: number): void;
  /** Count of requests to `path`, optionally only those with this grant_type (for /oauth/token). */
  count(path: string, grantType?: string): number;
  /** Stops listening and destroys every open connection, hanging ones included. Idempotent. */
  close(): Promise<void>;
}

export interface FakeIssuerOptions {
  /** Default 0: any free port. The server binds 127.0.0.1 only. */
  port?: number;
  clientId?: string;
  account?: Partial<FakeAccount>;
  /** Called with each request as soon as it is recorded (the launcher logs with it). */
  onRequest?: (request: RecordedRequest) => void;
}

export const DEFAULT_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann';

const DEFAULT_ACCOUNT: Readonly<FakeAccount> = {
  email: 'dev@example.com',
  planType: 'pro',
  accountId: 'acct_fake_123',
  userId: 'user_fake_123',
};

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';
const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const ID_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:id_token';
const ID_TOKEN_TTL_S = 3600;
/** The `interval` of the device-code reply; a string, as the real server sends it. */
const DEVICE_POLL_INTERVAL = '1';

export type RefreshErrorCode = 'refresh_token_expired' | 'refresh_token_reused' | 'refresh_token_invalidated';

const REFRESH_ERROR_MESSAGES: Record<RefreshErrorCode, string> = {
  refresh_token_expired: 'Your refresh token has expired. Please try signing in again.',
  refresh_token_reused:
    'Your refresh token has already been used to generate a new access token. Please try signing in again.',
  refresh_token_invalidated: 'Your refresh token has been invalidated. Please try signing in again.',
};

/** The body the real issuer sends with a 401 refresh failure; handy for `script()`. */
export function refreshErrorBody(code: RefreshErrorCode): object {
  return { error: { message: REFRESH_ERROR_MESSAGES[code], type: 'invalid_request_error', param: null, code } };
}

export async function startFakeIssuer(opts: FakeIssuerOptions = {}): Promise<FakeIssuer> {
  const issuer = new FakeIssuerServer(
    opts.clientId ?? DEFAULT_CLIENT_ID,
    { ...DEFAULT_ACCOUNT, ...opts.account },
    opts.onRequest,
  );
  await issuer.listen(opts.port ?? 0);
  return issuer;
}

/** The payload of a JWT, unverified. Throws unless it has three parts and a JSON object payload. */
export function decodeJwtPayload(jwt: string): Record<string, unknown> {
  const parts = jwt.split('.');
  if (parts.length !== 3 || parts.some((part) => part === '')) throw new Error('not a JWT: expected three parts');
  const payload: unknown = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8'));
  if (!isRecord(payload)) throw new Error('not a JWT: the payload is not a JSON object');
  return payload;
}

interface AuthorizationCode {
  redirectUri: string;
  codeChallenge: string;
  account: FakeAccount;
  used: boolean;
}

/** A refresh token is live until it is rotated (used) or revoked. */
interface RefreshGrant {
  state: 'live' | 'used' | 'revoked';
  account: FakeAccount;
}

interface DeviceLogin {
  userCode: string;
  polls: number;
  approved: boolean;
  /** Who approved it, when another identity than `account` was chosen. */
  account?: FakeAccount;
}

interface ScriptEntry {
  response: ScriptedResponse;
  remaining: number;
}

type Handler = (request: RecordedRequest, res: ServerResponse) => void;

interface Grant {
  /** The content type Codex sends this grant with; anything else is rejected. */
  encoding: string;
  handle: (body: Record<string, unknown>, res: ServerResponse) => void;
}

class FakeIssuerServer implements FakeIssuer {
  url = '';
  accessTokenTtlS = 3600;
  deviceCodeEnabled = true;
  devicePendingPolls = 1;
  otherAccounts: FakeAccount[] = [];
  consent: FakeIssuer['consent'] = 'approve';
  readonly requests: RecordedRequest[] = [];
  readonly codeExchanges: CodeExchange[] = [];
  readonly revoked: RevokedToken[] = [];

  private readonly codes = new Map<string, AuthorizationCode>();
  private readonly refreshTokens = new Map<string, RefreshGrant>();
  private readonly idTokens = new Set<string>();
  private readonly deviceLogins = new Map<string, DeviceLogin>();
  private readonly scripts = new Map<string, ScriptEntry[]>();
  private readonly closing = new AbortController();
  private closed: Promise<void> | undefined;
  private readonly server = createServer((req, res) => void this.handle(req, res));

  private readonly routes = new Map<string, Handler>([
    ['GET /oauth/authorize', (rq, res) => this.authorize(rq, res)],
    ['POST /oauth/consent', (rq, res) => this.consentDecision(rq, res)],
    ['POST /oauth/token', (rq, res) => this.token(rq, res)],
    ['POST /oauth/revoke', (rq, res) => this.revoke(rq, res)],
    ['POST /api/accounts/deviceauth/usercode', (rq, res) => this.deviceUserCode(rq, res)],
    ['POST /api/accounts/deviceauth/token', (rq, res) => this.devicePoll(rq, res)],
    ['GET /codex/device', (_rq, res) => sendHtml(res, 200, devicePage(this.emails()))],
    ['POST /codex/device', (rq, res) => this.deviceApprove(rq, res)],
  ]);

  private readonly grants = new Map<string, Grant>([
    ['authorization_code', { encoding: FORM, handle: (body, res) => this.exchangeCode(body, res) }],
    [TOKEN_EXCHANGE_GRANT, { encoding: FORM, handle: (body, res) => this.exchangeForApiKey(body, res) }],
    ['refresh_token', { encoding: JSON_TYPE, handle: (body, res) => this.refresh(body, res) }],
  ]);

  constructor(
    public clientId: string,
    public account: FakeAccount,
    private readonly onRequest: ((request: RecordedRequest) => void) | undefined,
  ) {}

  async listen(port: number): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const address = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${address.port}`;
  }

  close(): Promise<void> {
    this.closed ??= new Promise<void>((resolve, reject) => {
      this.closing.abort();
      this.server.close((err) => (err ? reject(err) : resolve()));
      this.server.closeAllConnections();
    });
    return this.closed;
  }

  mintTokens(opts: { accessExpiresInS?: number; account?: FakeAccount } = {}): TokenSet {
    return this.issue(opts.account ?? this.account, opts.accessExpiresInS ?? this.accessTokenTtlS);
  }

  script(path: string, response: ScriptedResponse, times = 1): void {
    if (times <= 0) return;
    const queue = this.scripts.get(path) ?? [];
    queue.push({ response, remaining: times });
    this.scripts.set(path, queue);
  }

  count(path: string, grantType?: string): number {
    return this.requests.filter(
      (request) => request.path === path && (grantType === undefined || request.body.grant_type === grantType),
    ).length;
  }

  // ---- request plumbing ----

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const request = recordRequest(req, await readBody(req));
      this.requests.push(request);
      this.onRequest?.(request);
      const scripted = this.takeScript(request.path);
      if (scripted) {
        await this.play(scripted, res);
        return;
      }
      const route = this.routes.get(`${request.method} ${request.path}`);
      if (route) route(request, res);
      else sendText(res, 404, 'Not found');
    } catch (err) {
      if (this.closing.signal.aborted || res.headersSent) return;
      sendText(res, 500, `fake issuer failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  private takeScript(path: string): ScriptedResponse | undefined {
    const queue = this.scripts.get(path) ?? [];
    const next = queue[0];
    if (next === undefined) return undefined;
    next.remaining -= 1;
    if (next.remaining <= 0) queue.shift();
    return next.response;
  }

  private async play(script: ScriptedResponse, res: ServerResponse): Promise<void> {
    // Rejects when close() aborts; handle() then drops the request silently.
    if (script.delayMs) await sleep(script.delayMs, undefined, { signal: this.closing.signal });
    if (script.hang) return;
    if (script.destroy) {
      res.destroy();
      return;
    }
    const status = script.status ?? 200;
    if (script.body === undefined) res.writeHead(status).end();
    else if (typeof script.body === 'string') sendText(res, status, script.body);
    else sendJson(res, status, script.body);
  }

  // ---- browser login (§2) ----

  private authorize(request: RecordedRequest, res: ServerResponse): void {
    const problem = this.checkAuthorizeQuery(request.query);
    if (problem) {
      sendText(res, 400, problem);
      return;
    }
    const action = `/oauth/consent?${new URLSearchParams(request.query).toString()}`;
    sendHtml(res, 200, consentPage(this.emails(), request.query.scope ?? '', action));
  }

  /** The consent page's form: the authorize query string plus `decision=approve|deny` in the body. */
  private consentDecision(request: RecordedRequest, res: ServerResponse): void {
    const problem = this.checkAuthorizeQuery(request.query);
    if (problem) {
      sendText(res, 400, problem);
      return;
    }
    const { redirect_uri: redirectUri, state, code_challenge: codeChallenge } = request.query;
    const decision = request.body.decision;
    if (decision === 'deny') {
      redirect(res, withQuery(redirectUri, { error: 'access_denied', error_description: 'User cancelled', state }));
    } else if (decision !== 'approve') {
      sendText(res, 400, 'invalid decision: expected approve or deny');
    } else if (this.consent !== 'approve') {
      const { error, error_description } = this.consent;
      redirect(res, withQuery(redirectUri, { error, error_description, state }));
    } else {
      const code = this.registerCode(redirectUri, codeChallenge, this.chosen(request.body));
      redirect(res, withQuery(redirectUri, { code, state }));
    }
  }

  /** Why this authorize request is invalid, naming the parameter; undefined when it is valid. */
  private checkAuthorizeQuery(query: Record<string, string>): string | undefined {
    if (query.response_type !== 'code') return 'invalid response_type: expected "code"';
    if (query.client_id !== this.clientId) return 'invalid client_id';
    if (!isLoopbackCallback(query.redirect_uri)) {
      return 'invalid redirect_uri: expected http://localhost:PORT/auth/callback or http://127.0.0.1:PORT/auth/callback';
    }
    if (!query.code_challenge) return 'missing code_challenge';
    if (query.code_challenge_method !== 'S256') return 'invalid code_challenge_method: expected "S256"';
    if (!query.state) return 'missing state';
    return undefined;
  }

  /** A fresh authorization code for `account` (default this.account), redeemable once with the matching redirect_uri and verifier. */
  private registerCode(redirectUri: string, codeChallenge: string, account: FakeAccount = this.account): string {
    const code = randomToken(32);
    this.codes.set(code, { redirectUri, codeChallenge, account: { ...account }, used: false });
    return code;
  }

  /** The emails a person may sign in as, `account`'s first. */
  private emails(): string[] {
    return [this.account.email, ...this.otherAccounts.map((account) => account.email)];
  }

  /** The identity a consent or device form chose (its `email` field), else `account`. */
  private chosen(body: Record<string, unknown>): FakeAccount {
    return this.otherAccounts.find((account) => account.email === field(body, 'email')) ?? this.account;
  }

  // ---- token endpoint (§2, §4) ----

  private token(request: RecordedRequest, res: ServerResponse): void {
    const grantType = field(request.body, 'grant_type');
    const grant = grantType === undefined ? undefined : this.grants.get(grantType);
    if (!grant) {
      sendOAuthError(res, 400, 'unsupported_grant_type', 'unsupported or missing grant_type');
    } else if (mediaType(request.contentType) !== grant.encoding) {
      sendOAuthError(res, 400, 'invalid_request', `grant_type ${grantType} must be sent as ${grant.encoding}`);
    } else if (field(request.body, 'client_id') !== this.clientId) {
      sendOAuthError(res, 400, 'invalid_client');
    } else {
      grant.handle(request.body, res);
    }
  }

  private exchangeCode(body: Record<string, unknown>, res: ServerResponse): void {
    const code = field(body, 'code') ?? '';
    const stored = this.codes.get(code);
    if (!stored) {
      sendOAuthError(res, 400, 'invalid_grant', 'Invalid authorization code');
      return;
    }
    if (stored.used) {
      sendOAuthError(res, 400, 'invalid_grant', 'Authorization code already used');
      return;
    }
    stored.used = true; // any attempt consumes the code
    const redirectUri = field(body, 'redirect_uri') ?? '';
    const verifier = field(body, 'code_verifier');
    const pkceVerified = verifier !== undefined && s256(verifier) === stored.codeChallenge;
    this.codeExchanges.push({ code, pkceVerified, redirectUri });
    if (redirectUri !== stored.redirectUri) {
      sendOAuthError(res, 400, 'invalid_grant', 'redirect_uri does not match the authorization request');
    } else if (!pkceVerified) {
      sendOAuthError(res, 400, 'invalid_grant', 'PKCE verification failed');
    } else {
      const tokens = this.issue(stored.account, this.accessTokenTtlS);
      sendJson(res, 200, { ...tokens, token_type: 'Bearer', expires_in: this.accessTokenTtlS });
    }
  }

  private exchangeForApiKey(body: Record<string, unknown>, res: ServerResponse): void {
    const subjectToken = field(body, 'subject_token');
    if (field(body, 'requested_token') !== 'openai-api-key') {
      sendOAuthError(res, 400, 'invalid_request', 'requested_token must be openai-api-key');
    } else if (field(body, 'subject_token_type') !== ID_TOKEN_TYPE) {
      sendOAuthError(res, 400, 'invalid_request', `subject_token_type must be ${ID_TOKEN_TYPE}`);
    } else if (subjectToken === undefined || !this.idTokens.has(subjectToken)) {
      sendOAuthError(res, 400, 'invalid_grant', 'subject_token is not an id_token issued here');
    } else {
      sendJson(res, 200, { access_token: `sk-fake-${randomToken(24)}` });
    }
  }

  /** Rotation with reuse detection: a live token is exchanged once; its successor carries the same identity. */
  private refresh(body: Record<string, unknown>, res: ServerResponse): void {
    const grant = this.refreshTokens.get(field(body, 'refresh_token') ?? '');
    if (!grant) {
      sendJson(res, 400, { error: 'invalid_grant' });
    } else if (grant.state === 'used') {
      sendJson(res, 401, refreshErrorBody('refresh_token_reused'));
    } else if (grant.state === 'revoked') {
      sendJson(res, 401, refreshErrorBody('refresh_token_invalidated'));
    } else {
      grant.state = 'used';
      sendJson(res, 200, this.issue(grant.account, this.accessTokenTtlS));
    }
  }

  /** Mints id, access and refresh tokens for `account`; the refresh token becomes live. */
  private issue(account: FakeAccount, accessExpiresInS: number): TokenSet {
    const owner = { ...account };
    const iat = Math.floor(Date.now() / 1000);
    const id_token = fakeJwt({
      iss: this.url,
      aud: this.clientId,
      sub: owner.userId,
      email: owner.email,
      iat,
      exp: iat + ID_TOKEN_TTL_S,
      'https://api.openai.com/auth': {
        chatgpt_plan_type: owner.planType,
        chatgpt_user_id: owner.userId,
        user_id: owner.userId,
        chatgpt_account_id: owner.accountId,
        organizations: [],
      },
      'https://api.openai.com/profile': { email: owner.email },
    });
    const access_token = fakeJwt({
      iss: this.url,
      aud: ['https://api.openai.com/v1'],
      iat,
      exp: iat + accessExpiresInS,
      jti: randomToken(16),
      'https://api.openai.com/auth': {
        chatgpt_account_id: owner.accountId,
        chatgpt_plan_type: owner.planType,
        chatgpt_user_id: owner.userId,
        user_id: owner.userId,
      },
      // As the real access token: Codex's app-server reads the email from it with host-managed tokens.
      'https://api.openai.com/profile': { email: owner.email, email_verified: true },
    });
    const refresh_token = `rt_${randomToken(32)}`;
    this.idTokens.add(id_token);
    this.refreshTokens.set(refresh_token, { state: 'live', account: owner });
    return { id_token, access_token, refresh_token };
  }

  // ---- revocation (§5) ----

  private revoke(request: RecordedRequest, res: ServerResponse): void {
    if (mediaType(request.contentType) !== JSON_TYPE) {
      sendOAuthError(res, 400, 'invalid_request', `revocation must be sent as ${JSON_TYPE}`);
      return;
    }
    const token = field(request.body, 'token');
    if (token === undefined) {
      sendOAuthError(res, 400, 'invalid_request', 'missing token');
      return;
    }
    const entry: RevokedToken = { token };
    const hint = field(request.body, 'token_type_hint');
    const clientId = field(request.body, 'client_id');
    if (hint !== undefined) entry.token_type_hint = hint;
    if (clientId !== undefined) entry.client_id = clientId;
    this.revoked.push(entry);
    const grant = this.refreshTokens.get(token);
    if (grant) grant.state = 'revoked';
    sendJson(res, 200, {});
  }

  // ---- device code (§3) ----

  private deviceUserCode(request: RecordedRequest, res: ServerResponse): void {
    if (!this.deviceCodeEnabled) {
      sendText(res, 404, 'Not found');
      return;
    }
    if (field(request.body, 'client_id') !== this.clientId) {
      sendOAuthError(res, 400, 'invalid_client');
      return;
    }
    const deviceAuthId = `dev_${randomToken(16)}`;
    const userCode = randomUserCode();
    this.deviceLogins.set(deviceAuthId, { userCode, polls: 0, approved: false });
    sendJson(res, 200, { device_auth_id: deviceAuthId, user_code: userCode, interval: DEVICE_POLL_INTERVAL });
  }

  private devicePoll(request: RecordedRequest, res: ServerResponse): void {
    const deviceAuthId = field(request.body, 'device_auth_id') ?? '';
    const login = this.deviceLogins.get(deviceAuthId);
    if (!login || login.userCode !== field(request.body, 'user_code')) {
      sendOAuthError(res, 400, 'invalid_request', 'Unknown device authorization');
      return;
    }
    login.polls += 1;
    if (!login.approved && login.polls <= this.devicePendingPolls) {
      sendJson(res, 403, { error: 'authorization_pending' });
      return;
    }
    this.deviceLogins.delete(deviceAuthId);
    const codeVerifier = randomToken(64);
    const codeChallenge = s256(codeVerifier);
    const code = this.registerCode(`${this.url}/deviceauth/callback`, codeChallenge, login.account);
    sendJson(res, 200, { authorization_code: code, code_challenge: codeChallenge, code_verifier: codeVerifier });
  }

  private deviceApprove(request: RecordedRequest, res: ServerResponse): void {
    const typed = normalizeUserCode(field(request.body, 'user_code') ?? '');
    const login = [...this.deviceLogins.values()].find((l) => normalizeUserCode(l.userCode) === typed);
    if (!login) {
      sendHtml(res, 400, devicePage(this.emails(), 'That code is not valid. Check it and try again.'));
      return;
    }
    login.approved = true;
    login.account = this.chosen(request.body);
    sendHtml(res, 200, deviceApprovedPage(login.account.email));
  }
}

// ---- helpers ----

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A string field of a parsed body, or undefined. */
function field(body: Record<string, unknown>, key: string): string | undefined {
  const value = body[key];
  return typeof value === 'string' ? value : undefined;
}

function randomToken(bytes: number): string {
  return randomBytes(bytes).toString('base64url');
}

function s256(verifier: string): string {
  return createHash('sha256').update(verifier).digest('base64url');
}

const JWT_HEADER = Buffer.from(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'fake' })).toString('base64url');

/** An unsigned-in-spirit JWT: real header and payload, random bytes for a signature. */
function fakeJwt(payload: object): string {
  return `${JWT_HEADER}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${randomToken(64)}`;
}

const USER_CODE_ALPHABET = 'ABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** XXXX-XXXX from letters and digits that can't be confused with each other. */
function randomUserCode(): string {
  const pick = (): string => USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  const group = (): string => Array.from({ length: 4 }, pick).join('');
  return `${group()}-${group()}`;
}

/** What a person typed, compared without case, spaces or dashes. */
function normalizeUserCode(code: string): string {
  return code.replace(/[^a-z0-9]/gi, '').toUpperCase();
}

function isLoopbackCallback(uri: string | undefined): boolean {
  if (!uri || !URL.canParse(uri)) return false;
  const url = new URL(uri);
  return (
    url.protocol === 'http:' &&
    (url.hostname === 'localhost' || url.hostname === '127.0.0.1') &&
    url.port !== '' &&
    url.pathname === '/auth/callback' &&
    url.search === ''
  );
}

/** `base` with the defined params appended, percent-encoded (spaces as %20, as Codex's own URLs). */
function withQuery(base: string, params: Record<string, string | undefined>): string {
  const query = Object.entries(params)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`)
    .join('&');
  return `${base}${base.includes('?') ? '&' : '?'}${query}`;
}

function mediaType(contentType: string | undefined): string | undefined {
  return contentType?.split(';')[0].trim().toLowerCase();
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function recordRequest(req: IncomingMessage, rawBody: string): RecordedRequest {
  const url = new URL(req.url ?? '/', 'http://fake-issuer.invalid');
  const contentType = req.headers['content-type'];
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: flattenHeaders(req.headers),
    contentType,
    rawBody,
    body: parseBody(contentType, rawBody),
    at: Date.now(),
  };
}

function flattenHeaders(headers: IncomingHttpHeaders): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value]),
  );
}

function parseBody(contentType: string | undefined, rawBody: string): Record<string, unknown> {
  const type = mediaType(contentType);
  if (type === FORM) return Object.fromEntries(new URLSearchParams(rawBody));
  if (type !== JSON_TYPE) return {};
  try {
    const parsed: unknown = JSON.parse(rawBody);
    return isRecord(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

function sendJson(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(text);
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' }).end(html);
}

function sendOAuthError(res: ServerResponse, status: number, error: string, description?: string): void {
  sendJson(res, status, description === undefined ? { error } : { error, error_description: description });
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(302, { location }).end();
}

// ---- pages ----

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const PAGE_STYLE = `
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: #f4f4f5;
         font: 16px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #18181b; }
  main { width: min(26rem, calc(100vw - 2rem)); background: #fff; border-radius: 12px; padding: 2rem;
         box-shadow: 0 1px 3px rgb(0 0 0 / 0.1), 0 8px 24px rgb(0 0 0 / 0.06); }
  h1 { font-size: 1.25rem; margin: 0 0 0.75rem; }
  p { margin: 0 0 1rem; color: #3f3f46; }
  .note { font-size: 0.8rem; color: #71717a; margin: 1.5rem 0 0; }
  .error { color: #b91c1c; }
  form { display: flex; flex-direction: column; gap: 0.5rem; }
  input { font: inherit; padding: 0.6rem 0.75rem; border: 1px solid #d4d4d8; border-radius: 8px;
          text-transform: uppercase; letter-spacing: 0.1em; text-align: center; }
  button { font: inherit; padding: 0.6rem 1rem; border-radius: 8px; border: 1px solid #18181b;
           background: #18181b; color: #fff; cursor: pointer; }
  button.secondary { background: #fff; color: #18181b; border-color: #d4d4d8; }`;

function page(title: string, content: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${PAGE_STYLE}</style></head>
<body><main>
${content}
<p class="note">Fake OpenAI issuer for codexd tests. No real account is involved.</p>
</main></body>
</html>
`;
}

/** Who signs in: the one identity, or a choice when the issuer has several. */
function whoSignsIn(emails: string[], lead: string): string {
  if (emails.length === 1) return `<p>${lead} <strong>${escapeHtml(emails[0]!)}</strong>.</p>`;
  const options = emails.map((email) => `<option>${escapeHtml(email)}</option>`).join('');
  return `<p><label>${lead} <select name="email">${options}</select></label></p>`;
}

function consentPage(emails: string[], scope: string, action: string): string {
  return page(
    'Sign in to Codex',
    `<h1>Sign in to Codex</h1>
<form method="post" action="${escapeHtml(action)}">
${whoSignsIn(emails, 'Codex wants to use your ChatGPT account')}
<p class="note">Requested scope: ${escapeHtml(scope)}</p>
  <button id="approve" name="decision" value="approve">Continue</button>
  <button id="deny" name="decision" value="deny" class="secondary">Cancel</button>
</form>`,
  );
}

function devicePage(emails: string[], error?: string): string {
  return page(
    'Device code',
    `<h1>Enter your one-time code</h1>
${error === undefined ? '' : `<p class="error">${escapeHtml(error)}</p>`}
<form method="post" action="/codex/device">
${whoSignsIn(emails, 'Signing in as')}
  <input name="user_code" placeholder="XXXX-XXXX" autocomplete="off" autofocus required>
  <button id="continue">Continue</button>
</form>`,
  );
}

function deviceApprovedPage(email: string): string {
  return page(
    'Signed in',
    `<h1>You're signed in</h1>
<p>Codex can now use <strong>${escapeHtml(email)}</strong>. You can close this tab and return to your terminal.</p>`,
  );
}
