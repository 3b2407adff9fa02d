// Redaction, checked against the daemon's real logger (daemon/runtime/log.ts) writing a real file:
//  - every field name in SECRET_FIELDS is redacted at any depth, in objects and in arrays;
//  - every secret-bearing field name the daemon handles (auth.json, the issuer's replies, the
//    wire protocol) is in SECRET_FIELDS, so a new one cannot be logged by name unnoticed;
//  - a secret the daemon has registered is scrubbed by value wherever it appears: under an
//    unknown field, in the message, in an error's stack, as a key.
// And the registry behind that scrub keeps only the held login's secrets and a few recent ones:
// the daemon's memory does not grow with every key it has ever seen, and an API key over 4 KiB is
// refused.
// The suite-wide scan (the summary in run.ts) then checks every log and output of the whole run.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger, SECRET_FIELDS, type Logger } from '../../daemon/runtime/log.js';
import { registerSecret } from '../../daemon/runtime/secrets.js';
import { serialize } from '../../daemon/auth/store.js';
import { ErrorCodes } from '../../client/index.js';
import { writeAtomically } from '../refresh-support.js';
import { rssKiB, suite } from './support.js';
import { waitFor } from '../helpers.js';

const s = suite('secrets');
const dir = mkdtempSync(join(tmpdir(), 'cxd-redact-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let files = 0;
/** A fresh logger on its own file; returns the logger and a reader of what it wrote. */
function logger(): { log: Logger; text: () => string } {
  const file = join(dir, `log-${files++}.jsonl`);
  const log = createLogger({ level: 'trace', file });
  return { log, text: () => readFileSync(file, 'utf8') };
}

const secretValue = (): string => `sv_${randomBytes(18).toString('base64url')}`;

/** `{ a: { b: ... { [field]: value } } }` at `depth`, with arrays in some of the levels. */
function nest(field: string, value: string, depth: number, arrays: boolean): Record<string, unknown> {
  let inner: unknown = { [field]: value, harmless: 'visible' };
  for (let level = depth; level > 0; level--) inner = arrays && level % 2 === 0 ? { [`l${level}`]: [inner] } : { [`l${level}`]: inner };
  return inner as Record<string, unknown>;
}

describe('redaction', () => {
  it('every field in SECRET_FIELDS is redacted at any depth (0–8), in objects and in arrays', () => {
    const { log, text } = logger();
    const used: Array<{ field: string; depth: number; arrays: boolean; value: string }> = [];
    for (const field of SECRET_FIELDS) {
      for (let depth = 0; depth <= 8; depth++) {
        for (const arrays of [false, true]) {
          const value = secretValue();
          used.push({ field, depth, arrays, value });
          log.info(nest(field, value, depth, arrays), 'nested secret');
        }
      }
    }
    log.flush();
    const written = text();
    s.ran(used.length);
    const leaked = used.filter((u) => written.includes(u.value)).map((u) => `${u.field} at depth ${u.depth}${u.arrays ? ' (arrays)' : ''}`);
    assert.deepEqual(leaked, [], `logged without redaction: ${leaked.join(', ')}`);
    assert.equal(written.split('\n').filter(Boolean).length, used.length, 'every line was written');
    assert.ok(written.includes('visible'), 'and only the secret fields are removed');
  });

  it('every secret-bearing field the daemon handles is in SECRET_FIELDS', () => {
    // auth.json, as the store writes it.
    const record = JSON.parse(serialize({ auth_mode: 'chatgpt', OPENAI_API_KEY: 'k', tokens: { id_token: 'i', access_token: 'a', refresh_token: 'r', account_id: 'x' }, last_refresh: 't' })) as Record<string, Record<string, unknown>>;
    const fromStore = ['OPENAI_API_KEY', ...Object.keys(record['tokens']!).filter((k) => k !== 'account_id')];
    // What the issuer sends and is sent (docs/codex-auth.md), and the wire protocol's secret results and params.
    const fromIssuer = ['id_token', 'access_token', 'refresh_token', 'code', 'code_verifier', 'authorization_code', 'subject_token', 'token', 'user_code', 'state'];
    const fromProtocol = ['apiKey', 'accessToken', 'userCode'];
    const missing = [...fromStore, ...fromIssuer, ...fromProtocol].filter((field) => !(SECRET_FIELDS as readonly string[]).includes(field));
    assert.deepEqual(missing, [], `secret-bearing fields missing from daemon/runtime/log.ts SECRET_FIELDS: ${missing.join(', ')}`);
  });

  it('a registered secret is scrubbed by value: under an unknown field, in the message, in an error stack, as a key, deep in arrays', () => {
    const { log, text } = logger();
    const values = Array.from({ length: 6 }, secretValue);
    for (const value of values) registerSecret(value);
    const [a, b, c, d, e, f] = values as [string, string, string, string, string, string];
    log.info({ someNewField: a }, 'unknown field');
    log.warn(`refresh failed: the issuer said ${b} was bad`);
    log.error({ err: new Error(`boom with ${c}`) }, 'request failed');
    log.info({ [d]: 1 }, 'secret as a key');
    log.info({ reply: { body: [{ deep: [[{ nested: e }]] }] } }, 'deep');
    log.child({ binding: f }).info('child binding');
    log.flush();
    const written = text();
    s.ran(values.length);
    const leaked = values.map((v, i) => (written.includes(v) ? `value ${i}` : null)).filter(Boolean);
    assert.deepEqual(leaked, [], 'registered secrets are scrubbed wherever they are');
    assert.equal((written.match(/\[REDACTED\]/g) ?? []).length >= values.length, true);
  });
});

describe('the registry of secrets to scrub', () => {
  it('an API key over 4 KiB is refused with -32602; one of exactly 4 KiB is taken', async () => {
    const box = s.box();
    await s.daemon(box);
    const c = await s.client(box);
    const tooLong = `sk-${'k'.repeat(4096)}`;
    s.secret('API key over 4 KiB', tooLong);
    const error = await s.rpcError(c.loginStart({ type: 'apiKey', apiKey: tooLong }));
    assert.equal(error.code, ErrorCodes.invalidParams);
    assert.match(error.message, /4 KiB/);
    assert.equal((await c.read()).state, 'loggedOut', 'nothing was saved');
    const longest = `sk-${'k'.repeat(4093)}`;
    s.secret('API key of 4 KiB', longest);
    assert.deepEqual(await c.loginStart({ type: 'apiKey', apiKey: longest }), { type: 'apiKey' });
  });

  it('does not grow with every secret the daemon has seen: 256 large API keys written to auth.json in turn, and RSS is back near its baseline', async () => {
    const ROUNDS = 256;
    const KEY_CHARS = 512 * 1024;
    /** 128 MiB of keys went through; keeping them would be far above this. */
    const SLACK_KIB = 48 * 1024;
    const box = s.box({ CODEXD_LOG_LEVEL: 'info' });
    const daemon = await s.daemon(box);
    const c = await s.client(box);
    const key = (round: number): string => `sk-registry-${String(round).padStart(4, '0')}-${'r'.repeat(KEY_CHARS)}`;
    /** Codex (or anyone) writes a new key into auth.json; the daemon reads it, registers it and serves it. */
    const rotate = async (round: number): Promise<void> => {
      writeAtomically(box.codexHome, JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: key(round) }));
      await waitFor(async () => {
        const token = await c.token().catch(() => null); // until the first key is read
        return token?.type === 'apiKey' && token.apiKey === key(round);
      }, `key ${round} to be served`, 10_000);
    };
    for (let round = 0; round < 8; round++) await rotate(round); // warm up
    const baseline = rssKiB(daemon.pid);
    for (let round = 8; round < 8 + ROUNDS; round++) await rotate(round);
    let rss = 0;
    await waitFor(() => (rss = rssKiB(daemon.pid)) <= baseline + SLACK_KIB, `RSS back within ${SLACK_KIB} KiB of ${baseline} KiB`, 60_000).catch((error: Error) => {
      throw new Error(`${error.message}; last seen ${rss} KiB`);
    });
    s.note(`secret registry: ${ROUNDS} keys of ${KEY_CHARS / 1024} KiB; RSS ${rss} KiB after, ${baseline} KiB before`);
  });
});
