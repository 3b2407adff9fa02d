// Switching under load: 16 clients ask for tokens (of the active account, or of one they name,
// some forcing a refresh) while 50 switches run one after another, and the test reads auth.json
// as fast as it can the whole time.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { describe, it } from 'node:test';
import type { TokenResult } from '../client/index.js';
import { client } from './helpers.js';
import { API_KEY, NAMES, threeAccounts, WHO_BY_NAME, type Who } from './accounts-support.js';

const CLIENTS = 16;
const SWITCHES = 50;

function claims(jwt: string): { auth: { chatgpt_account_id: string } } {
  const payload = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
  return { auth: payload['https://api.openai.com/auth'] as { chatgpt_account_id: string } };
}

/** Whose credential this is; fails when its parts belong to different accounts. */
function whoseToken(result: TokenResult): Who {
  if (result.type === 'apiKey') {
    assert.equal(result.apiKey, API_KEY);
    return 'apikey';
  }
  assert.equal(claims(result.accessToken).auth.chatgpt_account_id, result.accountId, 'the access token and the account id are one account');
  return result.accountId as Who;
}

/** Whose login auth.json holds; fails unless it is one account's whole record. */
function whoseRecord(raw: string): Who {
  const record = JSON.parse(raw) as { auth_mode: string; OPENAI_API_KEY: string | null; tokens?: { id_token: string; access_token: string; refresh_token: string; account_id: string }; last_refresh?: string };
  if (record.auth_mode === 'apikey') {
    assert.equal(raw, JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: API_KEY }, null, 2));
    return 'apikey';
  }
  assert.deepEqual(Object.keys(record), ['auth_mode', 'OPENAI_API_KEY', 'tokens', 'last_refresh']);
  const { id_token, access_token, refresh_token, account_id } = record.tokens!;
  assert.ok(refresh_token, 'a refresh token');
  assert.equal(claims(id_token).auth.chatgpt_account_id, account_id, 'the id_token is the account of account_id');
  assert.equal(claims(access_token).auth.chatgpt_account_id, account_id, 'the access token is the account of account_id');
  return account_id as Who;
}

/** Which accounts were active at some moment in [from, to]: the one before a switch and the one after overlap while it runs. */
function activeDuring(switches: Array<{ asked: number; done: number; to: Who }>, initial: Who, from: number, to: number): Set<Who> {
  const possible = new Set<Who>();
  let current = initial;
  let since = -Infinity;
  for (const change of switches) {
    if (since <= to && change.asked >= from) possible.add(current); // current was active in [since, asked]
    if (change.asked <= to && change.done >= from) possible.add(current).add(change.to); // the switch was running
    current = change.to;
    since = change.done;
  }
  if (since <= to) possible.add(current);
  return possible;
}

describe('switching under load', () => {
  it(`${CLIENTS} clients ask for tokens during ${SWITCHES} switches: every answer is one whole account, the active one or the one named`, { timeout: 300_000 }, async (t) => {
    const { s, c } = await threeAccounts(t);
    const names = Object.keys(WHO_BY_NAME);
    const initial = whoseRecord(readFileSync(s.authFile, 'utf8'));
    const switches: Array<{ asked: number; done: number; to: Who }> = [];
    let running = true;

    let polls = 0;
    const seenOnDisk = new Set<Who>();
    const poller = (async () => {
      while (running) {
        seenOnDisk.add(whoseRecord(readFileSync(s.authFile, 'utf8')));
        polls++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();

    const answers: Array<{ asked: number; answered: number; named: string | undefined; who: Who }> = [];
    const clients = await Promise.all(Array.from({ length: CLIENTS }, () => client(s.box)));
    const callers = clients.map(async (c, i) => {
      for (let n = 0; running; n++) {
        const named = (i + n) % 4 === 0 ? names[(i + n) % names.length] : undefined;
        const forceRefresh = named !== undefined && WHO_BY_NAME[named] !== 'apikey' && (i + n) % 24 === 0;
        const asked = performance.now();
        const result = await c.token({ ...(named === undefined ? {} : { account: named }), forceRefresh });
        answers.push({ asked, answered: performance.now(), named, who: whoseToken(result) });
      }
    });

    const load = Promise.all([...callers, poller]);
    load.catch(() => (running = false)); // a failed check ends the run; it is reported below
    try {
      for (let i = 0; i < SWITCHES && running; i++) {
        const name = names[(i + 1) % names.length]!;
        const asked = performance.now();
        await c.switchAccount(name);
        switches.push({ asked, done: performance.now(), to: WHO_BY_NAME[name]! });
      }
    } finally {
      running = false;
    }
    await load;
    await Promise.all(clients.map((c) => c.close()));
    assert.equal(switches.length, SWITCHES);

    for (const answer of answers) {
      if (answer.named !== undefined) assert.equal(answer.who, WHO_BY_NAME[answer.named], `a token asked for ${answer.named}`);
      else assert.ok(activeDuring(switches, initial, answer.asked, answer.answered).has(answer.who), `a token of ${answer.who} for the active account, asked at ${answer.asked}`);
    }
    t.diagnostic(`${answers.length} tokens (${answers.filter((a) => a.named === undefined).length} of the active account), ${polls} reads of auth.json`);
    assert.ok(answers.filter((a) => a.named === undefined).length >= SWITCHES, 'tokens of the active account were asked for all along');
    assert.deepEqual([...seenOnDisk].sort(), ['acct_fake_123', 'acct_other_456', 'apikey'], 'auth.json held each account in turn');

    // Nothing was spent twice: every account still refreshes, and none needs a new sign-in.
    for (const name of [NAMES.first, NAMES.work]) assert.equal((await c.token({ account: name, forceRefresh: true })).type, 'chatgpt');
    assert.deepEqual((await c.accounts()).map((account) => account.state), ['ok', 'ok', 'ok']);
    assert.equal((await c.accounts()).find((account) => account.active)!.name, names[SWITCHES % names.length]);
  });
});
