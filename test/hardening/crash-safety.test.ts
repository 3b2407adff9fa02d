// SIGKILL at random points. 200 times in all, the daemon is started, asked to persist a login
// (API key, or the browser login's callback), a refresh or a logout, and killed 0–N ms later, N
// being a little longer than the operation takes on this machine. Afterwards auth.json parses and
// holds either the complete old record or the complete new one, or is absent only for a logout;
// an operation that had answered is on disk; and the next start removes any `.auth-XXXXXX` temp
// file the kill left behind, without waiting when Codex holds auth.lock. And a restarted daemon
// does not miss a write another process makes the moment it starts accepting.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { FakeIssuer } from '../../support/fake-issuer.js';
import { authPath, readLog, waitFor, type Daemon, type Sandbox } from '../helpers.js';
import { consent } from '../login-support.js';
import { fixture, holdLock, writeAtomically } from '../refresh-support.js';
import { prng, RawConnection, request, runSeed, suite, type Prng } from './support.js';

const s = suite('crash safety (SIGKILL)');
const rnd: Prng = prng(runSeed('crash safety'));

type Outcome = 'old' | 'new' | 'absent';

interface Operation {
  name: string;
  runs: number;
  /** Writes the state before the daemon starts; returns the exact old bytes (null: no auth.json). */
  before(box: Sandbox, issuer: FakeIssuer, run: number): string | null;
  /** Starts the operation; resolves once it has answered (it may never, if killed first). */
  start(box: Sandbox, conn: RawConnection, issuer: FakeIssuer, run: number): Promise<{ fire(): void; answered(): boolean }>;
  /** Whether `raw` is the complete new record. */
  isNew(raw: string, old: string | null, issuer: FakeIssuer, run: number): boolean;
  /** Whether an absent auth.json is a correct outcome. */
  absentOk: boolean;
}

function apiKey(run: number): string {
  return `sk-crash-${String(run).padStart(4, '0')}-0123456789abcdef`;
}

function decodes(jwt: unknown): boolean {
  if (typeof jwt !== 'string') return false;
  const parts = jwt.split('.');
  if (parts.length !== 3) return false;
  try {
    return typeof JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) === 'object';
  } catch {
    return false;
  }
}

/** A complete ChatGPT record for `accountId`, checked independently of the daemon's own parser. */
function completeChatgpt(raw: string, accountId: string): { access: string } | null {
  let value: { auth_mode?: unknown; tokens?: Record<string, unknown>; last_refresh?: unknown };
  try {
    value = JSON.parse(raw) as typeof value;
  } catch {
    return null;
  }
  const tokens = value.tokens;
  if (value.auth_mode !== 'chatgpt' || !tokens || tokens['account_id'] !== accountId || typeof value.last_refresh !== 'string') return null;
  if (!decodes(tokens['id_token']) || !decodes(tokens['access_token']) || typeof tokens['refresh_token'] !== 'string') return null;
  return { access: tokens['access_token'] as string };
}

function rpcStart(method: string, params: (run: number) => unknown) {
  return async (_box: Sandbox, conn: RawConnection, _issuer: FakeIssuer, run: number) => ({
    fire: () => void conn.write(request(run, method, params(run))),
    answered: () => conn.byId(run)?.result !== undefined,
  });
}

const operations: Operation[] = [
  {
    name: 'login persist (API key over a ChatGPT login)',
    runs: 50,
    before: (box, issuer) => {
      const old = fixture(issuer.mintTokens(), issuer.account).raw;
      writeAtomically(box.codexHome, old);
      return old;
    },
    start: rpcStart('account/login/start', (run) => {
      s.secret('API key (crash runs)', apiKey(run));
      return { type: 'apiKey', apiKey: apiKey(run) };
    }),
    isNew: (raw, _old, _issuer, run) => raw === JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: apiKey(run) }, null, 2),
    absentOk: false,
  },
  {
    name: 'login persist (browser callback over an API-key login)',
    runs: 40,
    before: (box) => {
      const old = JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: 'sk-crash-old-browser-0123456789' }, null, 2);
      s.secret('API key (crash fixture)', 'sk-crash-old-browser-0123456789');
      writeAtomically(box.codexHome, old);
      return old;
    },
    start: async (_box, conn, issuer, run) => {
      const started = await conn.call(run, 'account/login/start', { type: 'chatgpt' });
      const authUrl = (started.result as { authUrl: string }).authUrl;
      const callback = new URL(await consent(issuer, authUrl));
      let answered = false;
      return {
        fire: () => {
          const req = httpRequest({ host: '127.0.0.1', port: Number(callback.port), path: `${callback.pathname}${callback.search}`, headers: { host: callback.host } }, (res) => {
            if (res.statusCode === 302) answered = true;
            res.resume();
          });
          req.on('error', () => undefined);
          req.end();
        },
        answered: () => answered,
      };
    },
    isNew: (raw, _old, issuer) => completeChatgpt(raw, issuer.account.accountId) !== null,
    absentOk: false,
  },
  {
    name: 'refresh persist',
    runs: 60,
    before: (box, issuer) => {
      const old = fixture(issuer.mintTokens(), issuer.account).raw;
      writeAtomically(box.codexHome, old);
      return old;
    },
    start: rpcStart('account/token', () => ({ forceRefresh: true })),
    isNew: (raw, old, issuer) => {
      const record = completeChatgpt(raw, issuer.account.accountId);
      return record !== null && raw !== old;
    },
    absentOk: false,
  },
  {
    name: 'logout',
    runs: 50,
    before: (box, issuer) => {
      const old = fixture(issuer.mintTokens(), issuer.account).raw;
      writeAtomically(box.codexHome, old);
      return old;
    },
    start: rpcStart('account/logout', () => ({})),
    isNew: () => false,
    absentOk: true,
  },
];

function tempFiles(codexHome: string): string[] {
  return existsSync(codexHome) ? readdirSync(codexHome).filter((name) => /^\.auth-/.test(name)) : [];
}

async function killAndWait(daemon: Daemon): Promise<void> {
  if (daemon.proc.exitCode === null && daemon.proc.signalCode === null) daemon.proc.kill('SIGKILL');
  await daemon.exited;
}

/**
 * How long the operation takes here when nothing kills it, in ms: the median of three, since one
 * run stalled by a busy machine would stretch the window until no kill lands before the write.
 */
async function calibrate(op: Operation, box: Sandbox, issuer: FakeIssuer): Promise<number> {
  const took: number[] = [];
  for (let i = 0; i < 3; i++) {
    const run = 100_000 + i;
    op.before(box, issuer, run);
    const daemon = await s.daemon(box);
    const conn = await RawConnection.open(box.socket);
    const started = await op.start(box, conn, issuer, run);
    const at = process.hrtime.bigint();
    started.fire();
    await waitFor(() => started.answered(), `the calibration run of ${op.name}`, 10_000);
    took.push(Number(process.hrtime.bigint() - at) / 1e6);
    conn.close();
    await killAndWait(daemon);
  }
  return took.sort((a, b) => a - b)[1]!;
}

describe('SIGKILL at a random point', () => {
  for (const op of operations) {
    it(`${op.name}: ${op.runs} kills, each leaving the complete old or new record${op.absentOk ? ' (or none)' : ''}, temp files removed at the next start`, async () => {
      const issuer = await s.issuer();
      const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_LOGIN_PORT: '0', CODEXD_LOG_LEVEL: 'info' });
      const windowMs = (await calibrate(op, box, issuer)) * 1.5 + 1;
      const outcomes: Record<Outcome, number> = { old: 0, new: 0, absent: 0 };
      let leftovers = 0;
      for (let run = 0; run < op.runs; run++) {
        const old = op.before(box, issuer, run);
        const daemon = await s.daemon(box);
        // The socket accepts (in the kernel's backlog) a moment before the daemon's clean-up runs.
        await waitFor(() => tempFiles(box.codexHome).length === 0, `run ${run}: the start to remove every temp file the previous kill left`);
        const conn = await RawConnection.open(box.socket);
        const started = await op.start(box, conn, issuer, run);
        const delay = rnd.next() * windowMs;
        let answeredBeforeKill = false;
        const killed = new Promise<void>((resolve) => {
          setTimeout(() => {
            answeredBeforeKill = started.answered();
            daemon.proc.kill('SIGKILL');
            resolve();
          }, delay);
        });
        started.fire();
        await killed;
        await daemon.exited;
        conn.close();
        s.ran(1);

        const file = authPath(box);
        const where = `run ${run} (killed after ${delay.toFixed(2)} ms of ${windowMs.toFixed(1)})`;
        let outcome: Outcome;
        if (!existsSync(file)) {
          assert.ok(op.absentOk, `${where}: auth.json is gone after an interrupted ${op.name}`);
          outcome = 'absent';
        } else {
          const raw = readFileSync(file, 'utf8');
          if (raw === old) outcome = 'old';
          else {
            assert.ok(op.isNew(raw, old, issuer, run), `${where}: auth.json is neither the old nor a complete new record: ${raw.slice(0, 200)}`);
            outcome = 'new';
          }
        }
        if (answeredBeforeKill) {
          assert.notEqual(outcome, 'old', `${where}: the operation had answered, so its result must be on disk`);
        }
        outcomes[outcome]++;
        leftovers += tempFiles(box.codexHome).length;
      }
      // The last kill's leftovers, and a planted one, go at the next start; files that merely look alike stay.
      writeFileSync(join(box.codexHome, '.auth-Zq9Xy1'), '{"auth_mode": "chat', { mode: 0o600 });
      writeFileSync(join(box.codexHome, '.auth-notes.txt'), 'not a temp file', { mode: 0o600 });
      const last = await s.daemon(box);
      // The clean-up runs once the socket is bound.
      await waitFor(() => tempFiles(box.codexHome).length === 1, 'the leftover temp files to be removed');
      assert.deepEqual(tempFiles(box.codexHome), ['.auth-notes.txt']);
      await killAndWait(last);

      s.note(`${op.name}: ${op.runs} kills within ${windowMs.toFixed(1)} ms; old ${outcomes.old}, new ${outcomes.new}, absent ${outcomes.absent}; temp files left by kills ${leftovers}`);
      // The kills must land on both sides of the write, or this proved nothing.
      assert.ok(outcomes.old > 0, `some kills must land before the write: ${JSON.stringify(outcomes)}`);
      assert.ok(outcomes.new + outcomes.absent > 0, `some kills must land after the write: ${JSON.stringify(outcomes)}`);
    });
  }
});

describe('a restart while another process writes', () => {
  it('auth.json written the moment a (re)started daemon accepts connections is noticed within 2 s, 20 times', async () => {
    const ROUNDS = 20;
    let missed = 0;
    for (let round = 0; round < ROUNDS; round++) {
      s.ran(1);
      const box = s.box({ CODEXD_LOG_LEVEL: 'info' });
      const daemon = await s.daemon(box, { waitReady: false });
      // As soon as the socket accepts, as a Codex CLI that happens to log in right then would.
      for (;;) {
        const up = await new Promise<boolean>((resolve) => {
          const probe = netConnect(box.socket);
          probe.once('connect', () => {
            probe.destroy();
            resolve(true);
          });
          probe.once('error', () => resolve(false));
        });
        if (up) break;
        if (daemon.proc.exitCode !== null) assert.fail(`codexd exited: ${daemon.stderr()}`);
        await new Promise((resolve) => setImmediate(resolve));
      }
      const key = `sk-restart-race-${round}-0123456789abcdef`;
      s.secret('API key (restart race)', key);
      writeAtomically(box.codexHome, JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: key }, null, 2));
      const c = await s.client(box);
      const seen = await waitFor(async () => (await c.read()).account?.type === 'apiKey', 'the outside login', 2000).then(() => true, () => false);
      if (!seen) missed++;
      await c.close();
      await killAndWait(daemon);
    }
    assert.equal(missed, 0, `${missed} of ${ROUNDS} outside logins made right at start-up were never noticed`);
  });
});

describe('a start while Codex holds auth.lock', () => {
  it('the daemon serves at once and leaves the temp files to the lock holder (flock auth.lock sleep)', async () => {
    const box = s.box();
    const key = 'sk-held-lock-at-start-0123456789abcdef';
    s.secret('API key (held auth.lock)', key);
    writeAtomically(box.codexHome, JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: key }, null, 2));
    writeFileSync(join(box.codexHome, '.auth-Held01'), '{"auth_mode": "apikey"', { mode: 0o600 });
    const holder = await holdLock(join(box.codexHome, 'auth.lock'));
    try {
      // s.daemon waits 5 s for the socket: a start-up that waited for the lock (30 s) fails here.
      await s.daemon(box);
      const c = await s.client(box);
      assert.equal((await c.read()).account?.type, 'apiKey');
      await waitFor(() => /auth\.lock is held by another writer/.test(readLog(box)), 'the skipped clean-up to be logged');
      assert.deepEqual(tempFiles(box.codexHome), ['.auth-Held01'], 'a temp file of a live writer is left alone');
    } finally {
      await holder.release();
    }
  });
});
