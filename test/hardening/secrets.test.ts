// Redaction, checked against the daemon's real logger (daemon/log.ts) writing a real file:
//  - every field name in SECRET_FIELDS is redacted at any depth, in objects and in arrays;
//  - every secret-bearing field name the daemon handles (auth.json, the issuer's replies, the
//    wire protocol) is in SECRET_FIELDS, so a new one cannot be logged by name unnoticed;
//  - a secret the daemon has registered is scrubbed by value wherever it appears: under an
//    unknown field, in the message, in an error's stack, as a key.
// The suite-wide scan (the summary in run.ts) then checks every log and output of the whole run.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLogger, SECRET_FIELDS, type Logger } from '../../daemon/log.js';
import { registerSecret } from '../../daemon/secrets.js';
import { serialize } from '../../daemon/store.js';
import { suite } from './support.js';

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
    s.count({ cases: used.length });
    const leaked = used.filter((u) => written.includes(u.value)).map((u) => `${u.field} at depth ${u.depth}${u.arrays ? ' (arrays)' : ''}`);
    assert.deepEqual(leaked, [], `logged without redaction: ${leaked.join(', ')}`);
    assert.equal(written.split('\n').filter(Boolean).length, used.length, 'every line was written');
    assert.ok(written.includes('visible'), 'and only the secret fields are removed');
    s.count({ faults: used.length });
  });

  it('every secret-bearing field the daemon handles is in SECRET_FIELDS', () => {
    // auth.json, as the store writes it.
    const record = JSON.parse(serialize({ auth_mode: 'chatgpt', OPENAI_API_KEY: 'k', tokens: { id_token: 'i', access_token: 'a', refresh_token: 'r', account_id: 'x' }, last_refresh: 't' })) as Record<string, Record<string, unknown>>;
    const fromStore = ['OPENAI_API_KEY', ...Object.keys(record['tokens']!).filter((k) => k !== 'account_id')];
    // What the issuer sends and is sent (docs/codex-auth.md), and the wire protocol's secret results and params.
    const fromIssuer = ['id_token', 'access_token', 'refresh_token', 'code', 'code_verifier', 'authorization_code', 'subject_token', 'token', 'user_code', 'state'];
    const fromProtocol = ['apiKey', 'accessToken', 'userCode'];
    const missing = [...fromStore, ...fromIssuer, ...fromProtocol].filter((field) => !(SECRET_FIELDS as readonly string[]).includes(field));
    s.count({ cases: 1 });
    assert.deepEqual(missing, [], `secret-bearing fields missing from daemon/log.ts SECRET_FIELDS: ${missing.join(', ')}`);
    s.count({ faults: 1 });
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
    s.count({ cases: values.length });
    const leaked = values.map((v, i) => (written.includes(v) ? `value ${i}` : null)).filter(Boolean);
    assert.deepEqual(leaked, [], 'registered secrets are scrubbed wherever they are');
    assert.equal((written.match(/\[REDACTED\]/g) ?? []).length >= values.length, true);
    s.count({ faults: values.length });
  });
});
