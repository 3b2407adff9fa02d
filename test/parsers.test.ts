// Unit tests of the pure functions that read untrusted input: the frame header and parser, JWT claims,
// auth.json, and the issuer's refresh-failure replies. The integration tests reach them through
// the real daemon; these pin their edge cases in milliseconds.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { frame, FrameParser, FramingError, parseContentLength } from '../shared/framing.js';
import { classifyRefreshFailure, REFRESH_MESSAGES } from '../daemon/auth/issuer.js';
import type { Reply } from '../daemon/runtime/http.js';
import { decodeJwt, expiryMs, identityOf } from '../daemon/auth/jwt.js';
import { parse, serialize } from '../daemon/auth/store.js';

const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const jwt = (payload: unknown): string => `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(payload)}.c2lnbmF0dXJl`;

describe('parseContentLength', () => {
  const MAX = 1024;

  it('reads Content-Length in any case, among other headers, with spaces around the value', () => {
    assert.equal(parseContentLength('Content-Length: 12', MAX), 12);
    assert.equal(parseContentLength('Content-Type: application/vscode-jsonrpc; charset=utf-8\r\ncontent-length:5', MAX), 5);
    assert.equal(parseContentLength('CONTENT-LENGTH:   7  ', MAX), 7);
    assert.equal(parseContentLength('Content-Length: 0', MAX), 0);
    assert.equal(parseContentLength(`Content-Length: ${MAX}`, MAX), MAX);
  });

  it('refuses a header without Content-Length, a line without a colon, and a value that is not a plain integer', () => {
    assert.throws(() => parseContentLength('Content-Type: text/plain', MAX), { name: 'FramingError', message: /missing Content-Length/ });
    assert.throws(() => parseContentLength('Content-Length 12', MAX), { name: 'FramingError', message: /malformed header line/ });
    for (const value of ['', '-1', '1.5', '0x10', '1e3', '12 34', '+5', '12345678901']) {
      assert.throws(() => parseContentLength(`Content-Length: ${value}`, MAX), FramingError, `value ${JSON.stringify(value)}`);
    }
  });

  it('refuses a length over the limit', () => {
    assert.throws(() => parseContentLength(`Content-Length: ${MAX + 1}`, MAX), { name: 'FramingError', message: /exceeds the 1024-byte limit/ });
  });
});

describe('FrameParser', () => {
  const bodies = (parser: FrameParser, ...chunks: string[]): string[] => {
    const out: string[] = [];
    for (const chunk of chunks) parser.push(Buffer.from(chunk), (body) => out.push(body.toString('utf8')));
    return out;
  };

  it('cuts frames however the bytes arrive: split anywhere, several in one chunk, empty bodies', () => {
    const stream = frame({ a: 'é' }) + frame({ b: 2 }) + 'Content-Length: 0\r\n\r\n';
    const whole = bodies(new FrameParser(1024), stream);
    assert.deepEqual(whole, ['{"a":"é"}', '{"b":2}', '']);
    const bytes = Buffer.from(stream);
    for (let cut = 1; cut < bytes.length; cut++) {
      const parser = new FrameParser(1024);
      const out: string[] = [];
      for (const part of [bytes.subarray(0, cut), bytes.subarray(cut)]) parser.push(part, (body) => out.push(body.toString('utf8')));
      assert.deepEqual(out, whole, `split at byte ${cut}`);
      assert.equal(parser.partial, false);
    }
    const byteByByte = new FrameParser(1024);
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i++) byteByByte.push(bytes.subarray(i, i + 1), (body) => out.push(body.toString('utf8')));
    assert.deepEqual(out, whole, 'one byte at a time');
  });

  it('knows when a frame is half read', () => {
    const parser = new FrameParser(1024);
    assert.deepEqual(bodies(parser, 'Content-Len'), []);
    assert.equal(parser.partial, true);
    assert.deepEqual(bodies(parser, 'gth: 2\r\n\r\n{'), []);
    assert.equal(parser.partial, true);
    assert.deepEqual(bodies(parser, '}'), ['{}']);
    assert.equal(parser.partial, false);
  });

  it('hands over the frames before a broken one, then throws', () => {
    const parser = new FrameParser(16);
    const out: string[] = [];
    assert.throws(() => parser.push(Buffer.from(frame({}) + 'Content-Length: 17\r\n\r\n'), (body) => out.push(body.toString('utf8'))), FramingError);
    assert.deepEqual(out, ['{}']);
    assert.throws(() => bodies(new FrameParser(16), 'x'.repeat(9000)), { name: 'FramingError', message: /header too long/ });
  });
});

describe('JWT claims', () => {
  it('decodes the payload of three non-empty dot-separated parts; anything else is null', () => {
    assert.deepEqual(decodeJwt(jwt({ sub: 'x', exp: 1 })), { sub: 'x', exp: 1 });
    const payload = b64({ sub: 'x' });
    for (const token of ['', payload, `a.${payload}`, `a.${payload}.b.c`, `.${payload}.b`, `a.${payload}.`, 'a..b']) {
      assert.equal(decodeJwt(token), null, token);
    }
    assert.equal(decodeJwt(`a.${b64('{not json')}.b`), null, 'payload not JSON');
    assert.equal(decodeJwt(`a.${b64([1, 2])}.b`), null, 'payload an array');
    assert.equal(decodeJwt(`a.${b64('"text"')}.b`), null, 'payload a string');
    assert.equal(decodeJwt(`a.${b64('null')}.b`), null, 'payload null');
  });

  it('reads email, plan, account and user as Codex does, with its fallbacks and plan aliases', () => {
    const auth = 'https://api.openai.com/auth';
    assert.deepEqual(identityOf(jwt({ email: 'a@example.com', [auth]: { chatgpt_plan_type: 'Pro', chatgpt_account_id: 'acct', chatgpt_user_id: 'user' } })), {
      email: 'a@example.com',
      planType: 'pro',
      accountId: 'acct',
      userId: 'user',
    });
    const fallbacks = identityOf(jwt({ 'https://api.openai.com/profile': { email: 'p@example.com' }, [auth]: { chatgpt_plan_type: 'HC', user_id: 'legacy' } }));
    assert.equal(fallbacks.email, 'p@example.com');
    assert.equal(fallbacks.planType, 'enterprise');
    assert.equal(fallbacks.userId, 'legacy');
    assert.equal(identityOf(jwt({ [auth]: { chatgpt_plan_type: 'edu' } })).planType, 'education');
    assert.equal(identityOf(jwt({ [auth]: { chatgpt_plan_type: 'galactic' } })).planType, 'unknown');
    assert.deepEqual(identityOf(jwt({ email: '', [auth]: 'not an object' })), { email: null, planType: null, accountId: null, userId: null });
    assert.deepEqual(identityOf('not a jwt'), { email: null, planType: null, accountId: null, userId: null });
  });

  it('reads exp in milliseconds; a missing or non-numeric exp is unknown', () => {
    assert.equal(expiryMs(jwt({ exp: 1_900_000_000 })), 1_900_000_000_000);
    assert.equal(expiryMs(jwt({ sub: 'x' })), null);
    assert.equal(expiryMs(jwt({ exp: '1900000000' })), null);
    assert.equal(expiryMs('not a jwt'), null);
  });
});

describe('auth.json parsing', () => {
  const tokens = { id_token: jwt({ email: 'a@example.com' }), access_token: jwt({ exp: 1_900_000_000 }), refresh_token: 'rt_opaque', account_id: 'acct' };

  it('reads the files Codex writes, and writes them back byte for byte', () => {
    const chatgpt = JSON.stringify({ auth_mode: 'chatgpt', OPENAI_API_KEY: null, tokens, last_refresh: '2025-10-01T12:34:56.123456789Z' }, null, 2);
    const apikey = JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: 'sk-test' }, null, 2);
    for (const raw of [chatgpt, apikey]) {
      const record = parse(raw);
      assert.equal(typeof record, 'object', String(record));
      assert.equal(serialize(record as Exclude<typeof record, string>), raw);
    }
  });

  it('without auth_mode: apikey when there is a key, else chatgpt; unknown keys are dropped; account_id may be missing', () => {
    assert.deepEqual(parse(JSON.stringify({ OPENAI_API_KEY: 'sk-test', future: 1 })), { auth_mode: 'apikey', OPENAI_API_KEY: 'sk-test' });
    const { account_id: _, ...withoutAccount } = tokens;
    assert.deepEqual(parse(JSON.stringify({ tokens: withoutAccount })), { auth_mode: 'chatgpt', OPENAI_API_KEY: null, tokens: { ...withoutAccount, account_id: null } });
  });

  it('says why it refuses a file Codex would not load, or one codexd does not manage', () => {
    const refused: Array<[unknown, RegExp]> = [
      ['{"auth_mode": "chatgpt",', /not valid JSON/],
      [[], /not hold a JSON object/],
      [{ OPENAI_API_KEY: 42 }, /OPENAI_API_KEY is not a string/],
      [{ auth_mode: 'agentIdentity' }, /auth_mode "agentIdentity" is not one codexd manages/],
      [{ auth_mode: 'chatgpt', tokens: 'x' }, /tokens is not an object/],
      [{ auth_mode: 'chatgpt', tokens: { ...tokens, id_token: 'not.a-jwt' } }, /id_token is not a valid JWT/],
      [{ auth_mode: 'chatgpt', tokens: { ...tokens, refresh_token: undefined } }, /refresh_token is missing/],
      [{ auth_mode: 'chatgpt', tokens: { ...tokens, account_id: 7 } }, /account_id is not a string/],
      [{ auth_mode: 'apikey', OPENAI_API_KEY: '' }, /OPENAI_API_KEY is empty/],
      [{ auth_mode: 'chatgpt', OPENAI_API_KEY: null }, /there are no tokens/],
    ];
    for (const [file, reason] of refused) {
      const result = parse(typeof file === 'string' ? file : JSON.stringify(file));
      assert.equal(typeof result, 'string', JSON.stringify(file));
      assert.match(result as string, reason);
    }
  });
});

describe('refresh-failure classification', () => {
  const reply = (status: number, body: unknown): Reply => ({ status, body, text: typeof body === 'string' ? body : JSON.stringify(body) });

  it('the three refresh_token_* codes are permanent, with Codex\'s sentence, wherever the body puts the code and in any case', () => {
    const cases: Array<[Reply, keyof typeof REFRESH_MESSAGES]> = [
      [reply(401, { error: 'refresh_token_expired' }), 'refresh_token_expired'],
      [reply(400, { error: { code: 'REFRESH_TOKEN_REUSED', message: 'used' } }), 'refresh_token_reused'],
      [reply(400, { code: 'refresh_token_invalidated' }), 'refresh_token_invalidated'],
    ];
    for (const [r, code] of cases) {
      const error = classifyRefreshFailure(r);
      assert.equal(error.kind, 'permanent', code);
      assert.equal(error.code, code);
      assert.equal(error.status, r.status);
      assert.equal(error.message, REFRESH_MESSAGES[code]);
    }
  });

  it('any other 401 is permanent with the general sentence, even without a JSON body', () => {
    for (const r of [reply(401, { error: 'invalid_token' }), { status: 401, body: undefined, text: '<html>nope</html>' }]) {
      const error = classifyRefreshFailure(r);
      assert.equal(error.kind, 'permanent');
      assert.equal(error.message, REFRESH_MESSAGES.other);
    }
  });

  it('everything else is transient, with the status and Codex\'s detail', () => {
    const invalidGrant = classifyRefreshFailure(reply(400, { error: 'invalid_grant', error_description: 'grant expired' }));
    assert.equal(invalidGrant.kind, 'transient');
    assert.equal(invalidGrant.code, 'invalid_grant');
    assert.equal(invalidGrant.message, 'Failed to refresh token: 400: grant expired');
    assert.equal(classifyRefreshFailure(reply(500, { error: { message: 'overloaded' } })).message, 'Failed to refresh token: 500: overloaded');
    const html = classifyRefreshFailure({ status: 502, body: undefined, text: '  Bad Gateway\n' });
    assert.equal(html.kind, 'transient');
    assert.equal(html.code, null);
    assert.equal(html.message, 'Failed to refresh token: 502: Bad Gateway');
    assert.equal(classifyRefreshFailure({ status: 503, body: undefined, text: '' }).message, 'Failed to refresh token: 503: unknown error');
  });
});
