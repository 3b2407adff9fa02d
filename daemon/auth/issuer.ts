// Every request codexd makes to the OAuth issuer goes through this module: Codex's endpoints,
// bodies and error classification (docs/codex-auth.md §2–§5), one timeout per request, and no
// retries of its own (the refresher owns the only retry loop). The HTTP itself (proxy, CA,
// capped replies, the reason of a network failure) is runtime/http.ts. Error messages name the
// step; a secret an issuer echoes in one is scrubbed where the message leaves the daemon (see
// runtime/secrets.ts).
import { isRecord } from '../../shared/framing.js';
import { decodeJwt } from './jwt.js';
import { registerSecret } from '../runtime/secrets.js';
import { HttpClient, type Reply } from '../runtime/http.js';

export interface IssuedTokens {
  id_token: string;
  access_token: string;
  refresh_token: string;
}

/** A refresh answer: Codex treats every field as optional. */
export type RefreshedTokens = Partial<IssuedTokens>;

export type FailureKind = 'permanent' | 'transient';

export class IssuerError extends Error {
  override name = 'IssuerError';
  constructor(
    message: string,
    readonly kind: FailureKind,
    /** The OAuth error code from the body, lower-cased, when there was one. */
    readonly code: string | null = null,
    readonly status: number | null = null,
  ) {
    super(message);
  }
}

export const REFRESH_MESSAGES = {
  refresh_token_expired:
    'Your access token could not be refreshed because your refresh token has expired. Please log out and sign in again.',
  refresh_token_reused:
    'Your access token could not be refreshed because your refresh token was already used. Please log out and sign in again.',
  refresh_token_invalidated:
    'Your access token could not be refreshed because your refresh token was revoked. Please log out and sign in again.',
  other: 'Your access token could not be refreshed. Please log out and sign in again.',
  accountMismatch:
    'Your access token could not be refreshed because you have since logged out or signed in to another account. Please sign in again.',
  /** codexd's own: the file is a follower's copy of another machine's login (docs/remote.md, "Follower mode"). */
  followerMirror:
    'Your access token could not be refreshed because auth.json is a codexd follower\'s copy of another machine\'s login, whose refresh token stays there: follow that machine again (codexd --upstream), or sign in here.',
} as const;

export interface IssuerOptions {
  issuer: string;
  clientId: string;
  timeoutMs: number;
  version: string;
  env?: NodeJS.ProcessEnv;
}

export class IssuerClient {
  private readonly http: HttpClient;

  constructor(private readonly options: IssuerOptions) {
    this.http = new HttpClient(options.env);
  }

  get issuer(): string {
    return this.options.issuer;
  }

  get clientId(): string {
    return this.options.clientId;
  }

  /** Refresh-token grant, JSON body exactly as Codex CLI 0.169 sends it. */
  async refresh(refreshToken: string): Promise<RefreshedTokens> {
    // A network failure throws "token refresh failed: <cause>", transient.
    const reply = await this.post('token refresh', '/oauth/token', 'json', {
      client_id: this.options.clientId,
      grant_type: 'refresh_token',
      refresh_reason: 'proactive_expiry',
      refresh_token: refreshToken,
    });
    if (reply.status < 200 || reply.status >= 300) throw classifyRefreshFailure(reply);
    if (!isRecord(reply.body)) {
      throw new IssuerError('Failed to refresh token: the issuer answered with something that is not JSON', 'transient', null, reply.status);
    }
    const tokens: RefreshedTokens = {};
    for (const field of ['id_token', 'access_token', 'refresh_token'] as const) {
      const value = reply.body[field];
      if (value === undefined || value === null) continue;
      if (typeof value !== 'string' || value === '') {
        throw new IssuerError(`Failed to refresh token: ${field} in the reply is not a string`, 'transient', null, reply.status);
      }
      registerSecret(value);
      tokens[field] = value;
    }
    if (tokens.id_token !== undefined && decodeJwt(tokens.id_token) === null) {
      throw new IssuerError('Failed to refresh token: the issuer returned an id_token that is not a valid JWT', 'transient', null, reply.status);
    }
    if (!tokens.access_token && !tokens.refresh_token && !tokens.id_token) {
      throw new IssuerError('Failed to refresh token: the reply holds no tokens', 'transient', null, reply.status);
    }
    return tokens;
  }

  /**
   * Authorization-code grant with PKCE (browser and device-code logins). Every error message
   * starts with `${step} failed: `, as Codex words them ("Token exchange failed: …").
   */
  async exchangeCode(step: string, code: string, redirectUri: string, verifier: string): Promise<IssuedTokens> {
    const reply = await this.post(step, '/oauth/token', 'form', {
      grant_type: 'authorization_code',
      code,
      redirect_uri: redirectUri,
      client_id: this.options.clientId,
      code_verifier: verifier,
    });
    if (reply.status < 200 || reply.status >= 300) {
      throw new IssuerError(`${step} failed: token endpoint returned status ${reply.status}: ${errorDetail(reply)}`, reply.status >= 500 ? 'transient' : 'permanent', null, reply.status);
    }
    const body = isRecord(reply.body) ? reply.body : {};
    const { id_token, access_token, refresh_token } = body;
    if (typeof id_token !== 'string' || typeof access_token !== 'string' || typeof refresh_token !== 'string') {
      throw new IssuerError(`${step} failed: token endpoint returned a reply without id_token, access_token and refresh_token`, 'permanent', null, reply.status);
    }
    if (decodeJwt(id_token) === null) throw new IssuerError(`${step} failed: token endpoint returned an id_token that is not a valid JWT`, 'permanent');
    for (const token of [id_token, access_token, refresh_token]) registerSecret(token);
    return { id_token, access_token, refresh_token };
  }

  /** Best-effort API-key token exchange; null when the issuer declines. */
  async exchangeApiKey(idToken: string): Promise<string | null> {
    try {
      const reply = await this.post('API key exchange', '/oauth/token', 'form', {
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        client_id: this.options.clientId,
        requested_token: 'openai-api-key',
        subject_token: idToken,
        subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
      });
      const key = isRecord(reply.body) ? reply.body['access_token'] : undefined;
      if (reply.status >= 200 && reply.status < 300 && typeof key === 'string' && key) {
        registerSecret(key);
        return key;
      }
      return null;
    } catch {
      return null;
    }
  }

  /** Revokes a token at `{issuer}/oauth/revoke`; throws on failure (callers treat it as a warning). */
  async revoke(token: string, hint: 'refresh_token' | 'access_token'): Promise<void> {
    const body: Record<string, string> = { token, token_type_hint: hint };
    if (hint === 'refresh_token') body['client_id'] = this.options.clientId;
    const reply = await this.post('token revocation', '/oauth/revoke', 'json', body, 10_000);
    if (reply.status < 200 || reply.status >= 300) {
      throw new IssuerError(`token revocation returned status ${reply.status}: ${errorDetail(reply)}`, 'transient', null, reply.status);
    }
  }

  /** Device-code step 1. */
  async requestUserCode(): Promise<{ deviceAuthId: string; userCode: string; intervalS: number }> {
    const reply = await this.post('device code request', '/api/accounts/deviceauth/usercode', 'json', { client_id: this.options.clientId });
    if (reply.status === 404) {
      throw new IssuerError(
        'device code login is not enabled for this Codex server. Use the browser login or verify the server URL.',
        'permanent',
        null,
        404,
      );
    }
    if (reply.status < 200 || reply.status >= 300) {
      throw new IssuerError(`device code request failed with status ${reply.status}`, reply.status >= 500 ? 'transient' : 'permanent', null, reply.status);
    }
    const body = isRecord(reply.body) ? reply.body : {};
    const deviceAuthId = body['device_auth_id'];
    const userCode = body['user_code'] ?? body['usercode'];
    const interval = body['interval'];
    if (typeof deviceAuthId !== 'string' || typeof userCode !== 'string' || (interval !== undefined && typeof interval !== 'string')) {
      throw new IssuerError('device code request returned an unexpected reply', 'permanent', null, reply.status);
    }
    registerSecret(deviceAuthId);
    registerSecret(userCode);
    const intervalS = Number((interval ?? '').trim() || '0');
    return { deviceAuthId, userCode, intervalS: Number.isFinite(intervalS) && intervalS >= 0 ? intervalS : 0 };
  }

  /** Device-code step 3: null while the user has not approved yet. */
  async pollDeviceToken(deviceAuthId: string, userCode: string): Promise<{ code: string; verifier: string } | null> {
    const reply = await this.post('device auth poll', '/api/accounts/deviceauth/token', 'json', {
      device_auth_id: deviceAuthId,
      user_code: userCode,
    });
    if (reply.status === 403 || reply.status === 404) return null;
    if (reply.status < 200 || reply.status >= 300) {
      throw new IssuerError(`device auth failed with status ${reply.status}`, 'permanent', null, reply.status);
    }
    const body = isRecord(reply.body) ? reply.body : {};
    const code = body['authorization_code'];
    const verifier = body['code_verifier'];
    if (typeof code !== 'string' || typeof verifier !== 'string') {
      throw new IssuerError('device auth returned an unexpected reply', 'permanent', null, reply.status);
    }
    registerSecret(code);
    registerSecret(verifier);
    return { code, verifier };
  }

  private async post(step: string, path: string, encoding: 'json' | 'form', fields: Record<string, string>, timeoutMs = this.options.timeoutMs): Promise<Reply> {
    const body = encoding === 'json' ? JSON.stringify(fields) : new URLSearchParams(fields).toString();
    const headers = {
      'content-type': encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
      accept: 'application/json',
      originator: 'codex_cli_rs',
      'user-agent': `codexd/${this.options.version}`,
    };
    const result = await this.http.request(`${this.options.issuer}${path}`, { method: 'POST', headers, body, timeoutMs });
    if ('failure' in result) throw new IssuerError(`${step} failed${result.whileReading ? ' while reading the reply' : ''}: ${result.failure}`, 'transient', null, result.status);
    return result;
  }
}

/** Codex's detail rule: error_description, error.message, error (string) or error.code, raw body, "unknown error". */
function errorDetail(reply: Reply): string {
  const body = isRecord(reply.body) ? reply.body : null;
  const nested = body && isRecord(body['error']) ? body['error'] : null;
  const candidates = [body?.['error_description'], nested?.['message'], body?.['error'], nested?.['code']];
  for (const candidate of candidates) if (typeof candidate === 'string' && candidate) return candidate;
  return reply.text.trim() ? reply.text.trim().slice(0, 500) : 'unknown error';
}

function errorCode(reply: Reply): string | null {
  const body = isRecord(reply.body) ? reply.body : null;
  if (!body) return null;
  const error = body['error'];
  const code = typeof error === 'string' ? error : isRecord(error) && typeof error['code'] === 'string' ? error['code'] : body['code'];
  return typeof code === 'string' ? code.toLowerCase() : null;
}

/** Codex's rule: the three refresh_token_* codes and any 401 are permanent (log in again); the rest is transient. */
export function classifyRefreshFailure(reply: Reply): IssuerError {
  const code = errorCode(reply);
  if (code === 'refresh_token_expired' || code === 'refresh_token_reused' || code === 'refresh_token_invalidated') {
    return new IssuerError(REFRESH_MESSAGES[code], 'permanent', code, reply.status);
  }
  if (reply.status === 401) return new IssuerError(REFRESH_MESSAGES.other, 'permanent', code, reply.status);
  return new IssuerError(`Failed to refresh token: ${reply.status}: ${errorDetail(reply)}`, 'transient', code, reply.status);
}
