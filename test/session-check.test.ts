// Unit tests of what a follower takes from its upstream (daemon/follower/session-check.ts) and of
// how a repeated failure is logged (daemon/runtime/repeats.ts). The follower's end-to-end
// behaviour against a hostile upstream is in follower-hostile.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSession, foreignText, MAX_TOKEN_CHARS, SessionRefused } from '../daemon/follower/session-check.js';
import { RepeatedFailure } from '../daemon/runtime/repeats.js';
import type { Logger } from '../daemon/runtime/log.js';

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const jwt = (payload: unknown): string => `${b64({ alg: 'RS256', typ: 'JWT' })}.${b64(payload)}.c2lnbmF0dXJl`;
const auth = (accountId: string): Record<string, unknown> => ({ 'https://api.openai.com/auth': { chatgpt_account_id: accountId } });
const exp = Math.floor(Date.parse('2030-01-01T00:00:00Z') / 1000);

const good = {
  authMode: 'chatgpt',
  accessToken: jwt({ exp, ...auth('acct_1') }),
  idToken: jwt({ email: 'dev@example.com', ...auth('acct_1') }),
  accountId: 'acct_1',
  expiresAt: '2030-01-01T00:00:00.000Z',
  lastRefresh: '2026-01-01T00:00:00.123456789Z',
};

function refusal(value: unknown): string {
  try {
    checkSession(value);
  } catch (error) {
    assert.ok(error instanceof SessionRefused, String(error));
    return error.message;
  }
  return assert.fail(`accepted ${JSON.stringify(value)?.slice(0, 100)}`);
}

describe('checkSession', () => {
  it('takes a ChatGPT session and an API key, as fresh objects with the checked fields alone', () => {
    assert.deepEqual(checkSession({ ...good, extra: 'x'.repeat(1000) }), good);
    assert.deepEqual(checkSession({ authMode: 'apikey', apiKey: 'sk-proj-abc_DEF-123', more: 1 }), { authMode: 'apikey', apiKey: 'sk-proj-abc_DEF-123' });
    assert.deepEqual(checkSession({ ...good, accountId: null, expiresAt: undefined, lastRefresh: null }), { ...good, accountId: null, expiresAt: null, lastRefresh: null });
    // Claims that name no account, or an access token without exp, are the upstream's to have;
    // an access token that alone names an account has nothing to disagree with.
    for (const accessToken of [jwt({}), jwt(auth('acct_2'))]) {
      const plain = { ...good, accountId: null, accessToken, idToken: jwt({ email: 'a@b.c' }) };
      assert.equal((checkSession(plain) as { accessToken: string }).accessToken, accessToken);
    }
  });

  it('refuses what is not a session, naming the field and its kind, never its contents', () => {
    const cases: Array<[unknown, RegExp]> = [
      [null, /^the session is not an object \(it is null\)$/],
      [[good], /^the session is not an object \(it is an array\)$/],
      ['chatgpt', /^the session is not an object \(it is a string\)$/],
      [{}, /^authMode is missing, not "chatgpt" or "apikey"$/],
      [{ ...good, authMode: 'x'.repeat(500) }, /^authMode is "x{40}… \(500 characters in all\)", not/],
      [{ ...good, accessToken: 7, idToken: 5 }, /^accessToken is not a string \(it is a number\)$/],
      [{ ...good, idToken: null }, /^idToken is not a string \(it is null\)$/],
      [{ ...good, accessToken: {} }, /^accessToken is not a string \(it is an object\)$/],
      [{ ...good, accessToken: '' }, /^accessToken is empty$/],
      [{ ...good, idToken: 'a.b' }, /^idToken is not a JWT/],
      [{ ...good, idToken: `${jwt({})}.x` }, /^idToken is not a JWT/],
      [{ ...good, idToken: 'aaa.bm90IGpzb24.ccc' }, /^idToken is not a JWT/],
      [{ ...good, accessToken: `${good.accessToken}\uFFFD` }, /^accessToken is not a JWT/],
      [{ ...good, accessToken: `${good.accessToken}\n` }, /^accessToken is not a JWT/],
      [{ ...good, accessToken: 'a'.repeat(MAX_TOKEN_CHARS + 1) }, new RegExp(`^accessToken is longer than ${MAX_TOKEN_CHARS} characters \\(${MAX_TOKEN_CHARS + 1}\\)$`)],
      [{ ...good, accountId: 5 }, /^accountId is not a string/],
      [{ ...good, accountId: 'acct 1' }, /^accountId holds characters an id never has$/],
      [{ ...good, accountId: 'a'.repeat(257) }, /^accountId is longer than 256/],
      [{ ...good, accountId: 'acct_2' }, /^accountId acct_2 is not the account its idToken names \(acct_1\)$/],
      [{ ...good, accessToken: jwt({ exp, ...auth('acct_2') }) }, /^the accessToken belongs to account acct_2, not to acct_1$/],
      [{ ...good, lastRefresh: 12 }, /^lastRefresh is not a string/],
      [{ ...good, lastRefresh: 'x'.repeat(65) }, /^lastRefresh is longer than 64/],
      [{ authMode: 'apikey', apiKey: 42 }, /^apiKey is not a string \(it is a number\)$/],
      [{ authMode: 'apikey' }, /^apiKey is not a string \(it is missing\)$/],
      [{ authMode: 'apikey', apiKey: 'sk-\u001b[2J' }, /^apiKey holds characters an API key never has$/],
      [{ authMode: 'apikey', apiKey: 'sk-'.padEnd(1025, 'a') }, /^apiKey is longer than 1024/],
    ];
    for (const [value, says] of cases) {
      assert.match(refusal(value), says, JSON.stringify(value)?.slice(0, 100));
    }
  });

  it('drops a lastRefresh or expiresAt that is not a time, rather than refusing the login for it', () => {
    const session = checkSession({ ...good, lastRefresh: 'yesterday', expiresAt: '-1' }) as { lastRefresh: string | null; expiresAt: string | null };
    assert.equal(session.lastRefresh, null);
    assert.equal(session.expiresAt, null);
  });
});

describe('foreignText', () => {
  it('cuts to the limit, says how long the text was, and replaces control characters', () => {
    assert.equal(foreignText('short'), 'short');
    assert.equal(foreignText('a'.repeat(200)), 'a'.repeat(200));
    assert.equal(foreignText('a'.repeat(1_000_000)), `${'a'.repeat(200)}… (1000000 characters in all)`);
    assert.equal(foreignText('x\u001b]0;title\u0007y\nz\u009b'), 'x ]0;title y z ');
    assert.equal(foreignText(42), '42');
    assert.equal(foreignText('abcdef', 3), 'abc… (6 characters in all)');
  });
});

describe('RepeatedFailure', () => {
  function recorder(): { log: Logger; lines: string[] } {
    const lines: string[] = [];
    const warn = (first: unknown, second?: string): void => void lines.push(typeof first === 'string' ? first : second!);
    return { log: { warn } as unknown as Logger, lines };
  }

  it('logs a reason once while it repeats, the count when it ends or changes, and at 10, 100, 1000 repeats', () => {
    const { log, lines } = recorder();
    const failures = new RepeatedFailure(log);
    for (let i = 0; i < 1234; i++) failures.failed('the upstream sent junk');
    assert.deepEqual(lines, [
      'the upstream sent junk',
      'the upstream sent junk (10 times in a row so far)',
      'the upstream sent junk (100 times in a row so far)',
      'the upstream sent junk (1000 times in a row so far)',
    ]);
    failures.failed('something else');
    assert.deepEqual(lines.slice(4), ['the upstream sent junk (1234 times in a row in all)', 'something else']);
    failures.ended();
    assert.equal(lines.length, 6, 'a failure that happened once is not counted again');
    failures.failed('again');
    failures.failed('again');
    failures.ended();
    failures.ended();
    assert.deepEqual(lines.slice(6), ['again', 'again (2 times in a row in all)']);
  });
});
