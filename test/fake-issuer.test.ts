// Tests of the fake OAuth issuer itself, driven over HTTP with global fetch.

import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import {
  DEFAULT_CLIENT_ID,
  decodeJwtPayload,
  startFakeIssuer,
  type FakeIssuer,
  type FakeIssuerOptions,
  type TokenSet,
} from '../support/fake-issuer.js';
import { waitFor } from './helpers.js';

const REDIRECT_URI = 'http://localhost:1455/auth/callback';
const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

async function fakeIssuer(t: TestContext, opts?: FakeIssuerOptions): Promise<FakeIssuer> {
  const issuer = await startFakeIssuer(opts);
  t.after(() => issuer.close());
  return issuer;
}

function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(64).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The authorize URL Codex builds (docs/codex-auth.md §2 step 3), with some parameters replaced or (null) left out. */
function authorizeUrl(issuer: FakeIssuer, challenge: string, overrides: Record<string, string | null> = {}): string {
  const params: Record<string, string | null> = {
    response_type: 'code',
    client_id: issuer.clientId,
    redirect_uri: REDIRECT_URI,
    scope: 'openid profile email offline_access api.connectors.read api.connectors.invoke',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    id_token_add_organizations: 'true',
    codex_cli_simplified_flow: 'true',
    state: 'state-123',
    originator: 'codex_cli_rs',
    ...overrides,
  };
  const defined = Object.entries(params).filter((entry): entry is [string, string] => entry[1] !== null);
  return `${issuer.url}/oauth/authorize?${new URLSearchParams(defined).toString()}`;
}

/** Opens the consent page, presses a button the way a browser submits the form, returns the redirect. */
async function consent(issuer: FakeIssuer, url: string, decision: 'approve' | 'deny'): Promise<URL> {
  const pageRes = await fetch(url);
  assert.equal(pageRes.status, 200);
  const html = await pageRes.text();
  assert.match(html, new RegExp(`<button id="${decision}" name="decision" value="${decision}"`));
  const action = /<form method="post" action="([^"]+)"/.exec(html)?.[1];
  assert.ok(action, 'consent form action');
  const res = await fetch(new URL(action.replaceAll('&#38;', '&'), issuer.url), {
    method: 'POST',
    body: new URLSearchParams({ decision }),
    redirect: 'manual',
  });
  assert.equal(res.status, 302);
  return new URL(res.headers.get('location') ?? '');
}

function postForm(url: string, fields: Record<string, string>): Promise<Response> {
  return fetch(url, { method: 'POST', body: new URLSearchParams(fields) });
}

function postJson(url: string, body: object): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

function exchangeCode(issuer: FakeIssuer, code: string, verifier: string, redirectUri = REDIRECT_URI): Promise<Response> {
  return postForm(`${issuer.url}/oauth/token`, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: redirectUri,
    client_id: issuer.clientId,
    code_verifier: verifier,
  });
}

function refresh(issuer: FakeIssuer, refreshToken: string, clientId = issuer.clientId): Promise<Response> {
  return postJson(`${issuer.url}/oauth/token`, {
    client_id: clientId,
    grant_type: 'refresh_token',
    refresh_reason: 'proactive_expiry',
    refresh_token: refreshToken,
  });
}

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>;
}

async function tokens(res: Response): Promise<TokenSet> {
  assert.equal(res.status, 200);
  const body = await json(res);
  for (const key of ['id_token', 'access_token', 'refresh_token']) assert.equal(typeof body[key], 'string', key);
  return body as unknown as TokenSet;
}

test('browser login: consent, code exchange with PKCE, single-use code', async (t) => {
  const issuer = await fakeIssuer(t, { account: { email: 'ada@example.com' } });
  assert.match(issuer.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(issuer.clientId, DEFAULT_CLIENT_ID);
  const { verifier, challenge } = pkce();

  const callback = await consent(issuer, authorizeUrl(issuer, challenge), 'approve');
  assert.equal(`${callback.origin}${callback.pathname}`, REDIRECT_URI);
  assert.equal(callback.searchParams.get('state'), 'state-123');
  const code = callback.searchParams.get('code') ?? '';
  assert.ok(code);

  issuer.account = { ...issuer.account, email: 'changed-after-consent@example.com' };
  const res = await exchangeCode(issuer, code, verifier);
  const body = await json(res.clone());
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.expires_in, 3600);
  const set = await tokens(res);
  assert.match(set.refresh_token, /^rt_[\w-]{43}$/);
  assert.deepEqual(issuer.codeExchanges, [{ code, pkceVerified: true, redirectUri: REDIRECT_URI }]);

  const [header] = set.id_token.split('.');
  assert.deepEqual(JSON.parse(Buffer.from(header ?? '', 'base64url').toString()), {
    alg: 'RS256',
    typ: 'JWT',
    kid: 'fake',
  });
  const id = decodeJwtPayload(set.id_token);
  assert.equal(id.email, 'ada@example.com', 'the account stored with the code');
  assert.equal(id.iss, issuer.url);
  assert.equal(id.aud, issuer.clientId);
  assert.equal(id.sub, 'user_fake_123');
  assert.equal(id.exp, Number(id.iat) + 3600);
  assert.deepEqual(id['https://api.openai.com/auth'], {
    chatgpt_plan_type: 'pro',
    chatgpt_user_id: 'user_fake_123',
    user_id: 'user_fake_123',
    chatgpt_account_id: 'acct_fake_123',
    organizations: [],
  });
  assert.deepEqual(id['https://api.openai.com/profile'], { email: 'ada@example.com' });
  const access = decodeJwtPayload(set.access_token);
  assert.deepEqual(access.aud, ['https://api.openai.com/v1']);
  assert.equal(access.exp, Number(access.iat) + 3600);
  assert.equal(typeof access.jti, 'string');

  const again = await exchangeCode(issuer, code, verifier);
  assert.equal(again.status, 400);
  assert.deepEqual(await json(again), { error: 'invalid_grant', error_description: 'Authorization code already used' });
});

test('code exchange: a wrong verifier or redirect_uri fails', async (t) => {
  const issuer = await fakeIssuer(t);
  const { verifier, challenge } = pkce();

  const first = (await consent(issuer, authorizeUrl(issuer, challenge), 'approve')).searchParams.get('code') ?? '';
  const wrongVerifier = await exchangeCode(issuer, first, pkce().verifier);
  assert.equal(wrongVerifier.status, 400);
  assert.deepEqual(await json(wrongVerifier), { error: 'invalid_grant', error_description: 'PKCE verification failed' });
  assert.equal(issuer.codeExchanges[0]?.pkceVerified, false);

  const second = (await consent(issuer, authorizeUrl(issuer, challenge), 'approve')).searchParams.get('code') ?? '';
  const wrongRedirect = await exchangeCode(issuer, second, verifier, 'http://localhost:1457/auth/callback');
  assert.equal(wrongRedirect.status, 400);
  assert.equal((await json(wrongRedirect)).error, 'invalid_grant');

  const unknown = await exchangeCode(issuer, 'no-such-code', verifier);
  assert.equal(unknown.status, 400);

  const asJson = await postJson(`${issuer.url}/oauth/token`, {
    grant_type: 'authorization_code',
    code: second,
    client_id: issuer.clientId,
  });
  assert.equal(asJson.status, 400, 'the code grant is form-encoded');
});

test('authorize: each invalid parameter is named in a 400', async (t) => {
  const issuer = await fakeIssuer(t);
  const { challenge } = pkce();
  const cases: Array<[Record<string, string | null>, string]> = [
    [{ response_type: 'token' }, 'response_type'],
    [{ client_id: 'app_other' }, 'client_id'],
    [{ redirect_uri: null }, 'redirect_uri'],
    [{ redirect_uri: 'https://evil.example/auth/callback' }, 'redirect_uri'],
    [{ code_challenge: null }, 'code_challenge'],
    [{ code_challenge_method: 'plain' }, 'code_challenge_method'],
    [{ state: null }, 'state'],
  ];
  for (const [overrides, param] of cases) {
    const res = await fetch(authorizeUrl(issuer, challenge, overrides));
    assert.equal(res.status, 400, param);
    assert.match(await res.text(), new RegExp(param));
  }
  const ok = await fetch(authorizeUrl(issuer, challenge, { redirect_uri: 'http://127.0.0.1:5555/auth/callback' }));
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /dev@example\.com/);
});

test('consent: Cancel, and a scripted consent error, redirect with an error', async (t) => {
  const issuer = await fakeIssuer(t);
  const url = authorizeUrl(issuer, pkce().challenge);

  const denied = await consent(issuer, url, 'deny');
  assert.equal(denied.search, '?error=access_denied&error_description=User%20cancelled&state=state-123');

  issuer.consent = { error: 'access_denied', error_description: 'missing_codex_entitlement' };
  const refused = await consent(issuer, url, 'approve');
  assert.equal(refused.searchParams.get('error'), 'access_denied');
  assert.equal(refused.searchParams.get('error_description'), 'missing_codex_entitlement');
  assert.equal(refused.searchParams.get('state'), 'state-123');
  assert.equal(refused.searchParams.get('code'), null);
});

test('API-key token exchange accepts only id_tokens it minted', async (t) => {
  const issuer = await fakeIssuer(t);
  const exchange = (subjectToken: string): Promise<Response> =>
    postForm(`${issuer.url}/oauth/token`, {
      grant_type: TOKEN_EXCHANGE_GRANT,
      client_id: issuer.clientId,
      requested_token: 'openai-api-key',
      subject_token: subjectToken,
      subject_token_type: 'urn:ietf:params:oauth:token-type:id_token',
    });

  const ok = await exchange(issuer.mintTokens().id_token);
  assert.equal(ok.status, 200);
  assert.match(String((await json(ok)).access_token), /^sk-fake-/);

  const bad = await exchange('eyJhbGciOiJub25lIn0.e30.c2ln');
  assert.equal(bad.status, 400);
  assert.equal(issuer.count('/oauth/token', TOKEN_EXCHANGE_GRANT), 2);
});

test('refresh: rotation, reuse detection, wrong client, unknown token', async (t) => {
  const issuer = await fakeIssuer(t);
  const first = issuer.mintTokens({ accessExpiresInS: 60 });
  const access = decodeJwtPayload(first.access_token);
  assert.equal(access.exp, Number(access.iat) + 60);

  const second = await tokens(await refresh(issuer, first.refresh_token));
  assert.notEqual(second.refresh_token, first.refresh_token);
  assert.notEqual(second.access_token, first.access_token);
  assert.notEqual(second.id_token, first.id_token);
  assert.equal(decodeJwtPayload(second.id_token).email, 'dev@example.com');

  const reused = await refresh(issuer, first.refresh_token);
  assert.equal(reused.status, 401);
  assert.deepEqual(await json(reused), {
    error: {
      message:
        'Your refresh token has already been used to generate a new access token. Please try signing in again.',
      type: 'invalid_request_error',
      param: null,
      code: 'refresh_token_reused',
    },
  });

  // Reuse of the old token does not invalidate its successor.
  await tokens(await refresh(issuer, second.refresh_token));

  const wrongClient = await refresh(issuer, issuer.mintTokens().refresh_token, 'app_other');
  assert.equal(wrongClient.status, 400);
  assert.equal((await json(wrongClient)).error, 'invalid_client');

  const unknown = await refresh(issuer, 'rt_unknown');
  assert.equal(unknown.status, 400);
  assert.deepEqual(await json(unknown), { error: 'invalid_grant' });

  assert.equal(issuer.count('/oauth/token', 'refresh_token'), 5);
  assert.equal(issuer.requests.at(-1)?.body.refresh_reason, 'proactive_expiry');
});

test('refresh keeps the identity of its grant', async (t) => {
  const issuer = await fakeIssuer(t);
  const other = { email: 'other@example.com', planType: 'plus', accountId: 'acct_other', userId: 'user_other' };
  const minted = issuer.mintTokens({ account: other });
  const refreshed = await tokens(await refresh(issuer, minted.refresh_token));
  const claims = decodeJwtPayload(refreshed.access_token)['https://api.openai.com/auth'];
  assert.deepEqual(claims, {
    chatgpt_account_id: 'acct_other',
    chatgpt_plan_type: 'plus',
    chatgpt_user_id: 'user_other',
    user_id: 'user_other',
  });
});

test('revoke records the request and invalidates the refresh token', async (t) => {
  const issuer = await fakeIssuer(t);
  const set = issuer.mintTokens();

  const res = await postJson(`${issuer.url}/oauth/revoke`, {
    token: set.refresh_token,
    token_type_hint: 'refresh_token',
    client_id: issuer.clientId,
  });
  assert.equal(res.status, 200);
  assert.deepEqual(await json(res), {});
  const accessRes = await postJson(`${issuer.url}/oauth/revoke`, {
    token: set.access_token,
    token_type_hint: 'access_token',
  });
  assert.equal(accessRes.status, 200);
  assert.deepEqual(issuer.revoked, [
    { token: set.refresh_token, token_type_hint: 'refresh_token', client_id: issuer.clientId },
    { token: set.access_token, token_type_hint: 'access_token' },
  ]);

  const after = await refresh(issuer, set.refresh_token);
  assert.equal(after.status, 401);
  const error = (await json(after)).error as Record<string, unknown>;
  assert.equal(error.code, 'refresh_token_invalidated');
});

test('device code: pending polls, then a code the normal exchange accepts', async (t) => {
  const issuer = await fakeIssuer(t);
  const start = await postJson(`${issuer.url}/api/accounts/deviceauth/usercode`, { client_id: issuer.clientId });
  assert.equal(start.status, 200);
  const { device_auth_id, user_code, interval } = await json(start);
  assert.match(String(device_auth_id), /^dev_/);
  assert.match(String(user_code), /^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
  assert.equal(interval, '1', 'interval is a string, as the real server sends it');

  const poll = (): Promise<Response> =>
    postJson(`${issuer.url}/api/accounts/deviceauth/token`, { device_auth_id, user_code });
  const pending = await poll();
  assert.equal(pending.status, 403);
  assert.deepEqual(await json(pending), { error: 'authorization_pending' });

  const done = await poll();
  assert.equal(done.status, 200);
  const { authorization_code, code_challenge, code_verifier } = await json(done);
  assert.equal(code_challenge, createHash('sha256').update(String(code_verifier)).digest('base64url'));

  const set = await tokens(
    await exchangeCode(issuer, String(authorization_code), String(code_verifier), `${issuer.url}/deviceauth/callback`),
  );
  assert.equal(decodeJwtPayload(set.id_token).email, 'dev@example.com');
  assert.equal(issuer.codeExchanges[0]?.pkceVerified, true);

  const unknown = await postJson(`${issuer.url}/api/accounts/deviceauth/token`, {
    device_auth_id: 'dev_nope',
    user_code,
  });
  assert.equal(unknown.status, 400);
});

test('device code: approval on /codex/device ends an otherwise endless wait', async (t) => {
  const issuer = await fakeIssuer(t);
  issuer.devicePendingPolls = Infinity;
  const { device_auth_id, user_code } = await json(
    await postJson(`${issuer.url}/api/accounts/deviceauth/usercode`, { client_id: issuer.clientId }),
  );
  const poll = (): Promise<Response> =>
    postJson(`${issuer.url}/api/accounts/deviceauth/token`, { device_auth_id, user_code });
  assert.equal((await poll()).status, 403);
  assert.equal((await poll()).status, 403);

  const pageRes = await fetch(`${issuer.url}/codex/device`);
  assert.equal(pageRes.status, 200);
  assert.match(await pageRes.text(), /<input name="user_code"/);
  const wrong = await postForm(`${issuer.url}/codex/device`, { user_code: 'ZZZZ-ZZZZ' });
  assert.equal(wrong.status, 400);
  assert.equal((await poll()).status, 403);

  const typed = String(user_code).toLowerCase().replace('-', ' ');
  const approved = await postForm(`${issuer.url}/codex/device`, { user_code: typed });
  assert.equal(approved.status, 200);
  assert.equal((await poll()).status, 200);
});

test('device code disabled: usercode answers 404', async (t) => {
  const issuer = await fakeIssuer(t);
  issuer.deviceCodeEnabled = false;
  const res = await postJson(`${issuer.url}/api/accounts/deviceauth/usercode`, { client_id: issuer.clientId });
  assert.equal(res.status, 404);
});

test('scripted responses take precedence, in order, for the given count', async (t) => {
  const issuer = await fakeIssuer(t);
  const set = issuer.mintTokens();
  issuer.script('/oauth/token', { status: 500, body: 'upstream down' }, 2);
  issuer.script('/oauth/token', { status: 401, body: { error: { code: 'refresh_token_expired' } }, delayMs: 50 });

  for (let i = 0; i < 2; i++) {
    const res = await refresh(issuer, set.refresh_token);
    assert.equal(res.status, 500);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    assert.equal(await res.text(), 'upstream down');
  }
  const started = Date.now();
  const expired = await refresh(issuer, set.refresh_token);
  assert.ok(Date.now() - started >= 45, 'delayMs is honoured');
  assert.equal(expired.status, 401);
  assert.equal(expired.headers.get('content-type'), 'application/json');
  assert.deepEqual(await json(expired), { error: { code: 'refresh_token_expired' } });

  await tokens(await refresh(issuer, set.refresh_token));
  assert.equal(issuer.count('/oauth/token'), 4, 'scripted requests are recorded too');
});

test('scripted destroy drops the connection; hang and long delays last until close()', async (t) => {
  const issuer = await fakeIssuer(t);
  issuer.script('/oauth/revoke', { destroy: true });
  await assert.rejects(postJson(`${issuer.url}/oauth/revoke`, { token: 'x' }));

  issuer.script('/oauth/token', { hang: true });
  issuer.script('/oauth/revoke', { delayMs: 60_000, status: 200, body: {} });
  const settle = (res: Promise<Response>): Promise<string> =>
    res.then(
      () => 'answered',
      () => 'failed',
    );
  const hanging = settle(refresh(issuer, 'rt_any'));
  const delayed = settle(postJson(`${issuer.url}/oauth/revoke`, { token: 'y' }));
  await waitFor(() => issuer.count('/oauth/token') === 1 && issuer.count('/oauth/revoke') === 2, 'one token request and two revocations', 2000);
  const started = Date.now();
  await issuer.close();
  assert.ok(Date.now() - started < 10_000, 'close() does not wait for the 60 s reply');
  assert.equal(await hanging, 'failed');
  assert.equal(await delayed, 'failed');
  await issuer.close(); // idempotent
});

test('every request is recorded before handling, with its body parsed', async (t) => {
  const issuer = await fakeIssuer(t);
  await postForm(`${issuer.url}/oauth/token?x=1`, { grant_type: 'authorization_code', code: 'c' });
  await fetch(`${issuer.url}/oauth/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{not json',
  });
  const notFound = await fetch(`${issuer.url}/nowhere`, { headers: { originator: 'codex_cli_rs' } });
  assert.equal(notFound.status, 404);

  const [form, broken, other] = issuer.requests;
  assert.equal(form?.method, 'POST');
  assert.equal(form?.path, '/oauth/token');
  assert.deepEqual(form?.query, { x: '1' });
  assert.equal(form?.contentType, 'application/x-www-form-urlencoded;charset=UTF-8');
  assert.deepEqual(form?.body, { grant_type: 'authorization_code', code: 'c' });
  assert.deepEqual(broken?.body, {});
  assert.equal(broken?.rawBody, '{not json');
  assert.equal(other?.path, '/nowhere');
  assert.equal(other?.headers.originator, 'codex_cli_rs');
  assert.ok(typeof other?.at === 'number' && other.at <= Date.now());
  assert.equal(issuer.count('/oauth/token', 'authorization_code'), 1);
});
