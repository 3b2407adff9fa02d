// In-process unit tests of an account slot (daemon/accounts/slot.ts) and the moves between slots
// (daemon/accounts/moves.ts): the refresh schedule and the backoff under node:test's mock timers,
// and a switch killed after each of its writes. The storage is in memory; the issuer is a stub
// that counts grants. End-to-end behaviour (the real daemon, files, Codex's locks) is in
// accounts*.test.ts and refresh-*.test.ts.
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { AccountMoves } from '../daemon/accounts/moves.js';
import { AccountRegistry } from '../daemon/accounts/registry.js';
import { AccountSlot } from '../daemon/accounts/slot.js';
import { accountKey } from '../daemon/accounts/identity.js';
import type { InactiveStore } from '../daemon/accounts/files.js';
import { IssuerError, type IssuerClient, type RefreshedTokens } from '../daemon/auth/issuer.js';
import { FORCED_REFRESH_REUSE_MS, RESTRICTED_FORCED_REFRESH_GAP_MS, type LoginStorage, type RefresherOptions, type StorageWriter } from '../daemon/auth/refresher.js';
import { loadedFrom, serialize, type AuthRecord, type Loaded } from '../daemon/auth/store.js';
import { createLogger } from '../daemon/runtime/log.js';
import { Mutex } from '../daemon/runtime/mutex.js';

const log = createLogger({ level: 'silent', file: null });
const T0 = Date.UTC(2026, 0, 1, 12);
const HOUR = 3600_000;
const OPTIONS: RefresherOptions = { marginMs: 300_000, backoffBaseMs: 1000, backoffMaxMs: 8000, tickMs: 60_000 };

function jwt(payload: object): string {
  const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none' })}.${part(payload)}.sig`;
}

function login(account: string, expMs: number, refresh = `rt-${account}-0`): AuthRecord {
  const auth = { chatgpt_account_id: account, chatgpt_user_id: `user-${account}` };
  return {
    auth_mode: 'chatgpt',
    OPENAI_API_KEY: null,
    tokens: {
      id_token: jwt({ email: `${account}@example.com`, 'https://api.openai.com/auth': auth }),
      access_token: jwt({ exp: Math.floor(expMs / 1000), n: refresh }),
      refresh_token: refresh,
      account_id: account,
    },
    last_refresh: new Date(T0).toISOString(),
  };
}

/** A disk of named entries; after `writesLeft` writes every write fails, as if the process had died. */
class MemoryDisk {
  readonly entries = new Map<string, string>();
  writesLeft = Infinity;
  writes = 0;

  read(name: string): Loaded {
    const raw = this.entries.get(name);
    return raw === undefined ? { kind: 'missing' } : loadedFrom(raw, name);
  }

  write(name: string, record: AuthRecord | null): void {
    if (this.writesLeft <= 0) throw new Error('killed');
    this.writesLeft--;
    this.writes++;
    if (record === null) this.entries.delete(name);
    else this.entries.set(name, serialize(record));
  }

  storage(name: string, lock = new Mutex()): LoginStorage {
    const writer: StorageWriter = {
      load: async () => this.read(name),
      save: async (record) => {
        this.write(name, record);
        return null;
      },
    };
    return { file: name, load: writer.load, withAuthLock: (work) => lock.run(() => work(writer)) };
  }

  /** The inactive accounts, one entry per key, as AccountFiles keeps them. */
  inactiveStore(): InactiveStore {
    const locks = new Map<string, Mutex>();
    return {
      location: 'memory',
      scan: async () => [...this.entries.keys()].filter((name) => name !== 'auth.json').map((key) => ({ key, loaded: this.read(key) })),
      storage: (key) => {
        if (!locks.has(key)) locks.set(key, new Mutex());
        return this.storage(key, locks.get(key));
      },
      loadNames: async () => ({}),
      saveNames: async () => undefined,
      removeLeftoverTempFiles: () => [],
    };
  }
}

/** An issuer that counts grants and answers from a script (default: new tokens valid for an hour). */
function stubIssuer(answer: (refreshToken: string) => Promise<RefreshedTokens> | RefreshedTokens = (rt) => rotated(rt)) {
  const grants: number[] = [];
  const issuer = {
    refresh: async (refreshToken: string) => {
      grants.push(Date.now());
      return answer(refreshToken);
    },
    revoke: async () => undefined,
  };
  return { issuer: issuer as unknown as IssuerClient, grants };
}

function rotated(refreshToken: string, lifeMs = HOUR): RefreshedTokens {
  const next = `${refreshToken}+`;
  return { access_token: jwt({ exp: Math.floor((Date.now() + lifeMs) / 1000), n: next }), refresh_token: next };
}

/** Lets the promise chains a timer started run to their end (the storage and issuer answer at once). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await turn();
}

describe('an account slot', () => {
  const slots: AccountSlot[] = [];
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: T0 }));
  afterEach(() => {
    for (const slot of slots.splice(0)) slot.dispose();
    mock.timers.reset();
    mock.restoreAll();
  });

  function slotOn(disk: MemoryDisk, issuer: IssuerClient): AccountSlot {
    const slot = AccountSlot.refreshed(disk.storage('auth.json'), issuer, OPTIONS, log);
    slots.push(slot);
    slot.adopt(disk.read('auth.json'));
    return slot;
  }

  test('refreshes at exp - margin, not a millisecond before, and then on the new token\'s schedule', async () => {
    const disk = new MemoryDisk();
    disk.write('auth.json', login('a', T0 + HOUR));
    const { issuer, grants } = stubIssuer();
    const slot = slotOn(disk, issuer);
    assert.equal(slot.nextAttemptAt(), T0 + HOUR - OPTIONS.marginMs);

    mock.timers.tick(HOUR - OPTIONS.marginMs - 1);
    await settle();
    assert.deepEqual(grants, []);
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(grants, [T0 + HOUR - OPTIONS.marginMs]);
    assert.equal(disk.read('auth.json').kind, 'ok');
    assert.equal(slot.held()!.record.tokens.refresh_token, 'rt-a-0+');
    assert.equal(slot.nextAttemptAt(), grants[0]! + HOUR - OPTIONS.marginMs);

    mock.timers.tick(HOUR - OPTIONS.marginMs);
    await settle();
    assert.equal(grants.length, 2);
  });

  test('a passing failure is retried with full-jitter exponential backoff, capped, and nothing before its time', async () => {
    mock.method(Math, 'random', () => 0.5);
    const disk = new MemoryDisk();
    disk.write('auth.json', login('a', T0 + HOUR));
    let failures = 4;
    const { issuer, grants } = stubIssuer((rt) => {
      if (failures-- > 0) throw new IssuerError('the issuer answered 503', 'transient');
      return rotated(rt);
    });
    const slot = slotOn(disk, issuer);
    const due = T0 + HOUR - OPTIONS.marginMs;
    mock.timers.tick(due - T0);
    await settle();
    assert.equal(grants.length, 1);
    // Ceilings 1 s, 2 s, 4 s, 8 s (the cap), each halved by the jitter.
    let at = due;
    for (const delay of [500, 1000, 2000, 4000]) {
      assert.equal(slot.transient?.retryAt, at + delay);
      assert.equal(slot.nextAttemptAt(), at + delay);
      mock.timers.tick(delay - 1);
      await settle();
      assert.equal(grants.length, [500, 1000, 2000, 4000].indexOf(delay) + 1, 'nothing before the backoff ends');
      mock.timers.tick(1);
      await settle();
      at += delay;
      assert.equal(grants.at(-1), at);
    }
    assert.equal(grants.length, 5);
    assert.equal(slot.transient, null);
    assert.equal(slot.lastError, null);
  });

  test('a permanent failure stops the schedule until another login comes', async () => {
    const disk = new MemoryDisk();
    disk.write('auth.json', login('a', T0 + HOUR));
    const { issuer, grants } = stubIssuer(() => {
      throw new IssuerError('Your refresh token has expired.', 'permanent', 'refresh_token_expired');
    });
    const slot = slotOn(disk, issuer);
    mock.timers.tick(HOUR);
    await settle();
    assert.equal(grants.length, 1);
    assert.equal(slot.accountState(), 'reauthRequired');
    assert.equal(slot.nextAttemptAt(), null);
    mock.timers.tick(10 * HOUR);
    await settle();
    assert.equal(grants.length, 1);
    slot.replace({ kind: 'ok', record: login('b', T0 + 20 * HOUR), raw: serialize(login('b', T0 + 20 * HOUR)) });
    assert.equal(slot.accountState(), 'ok');
  });

  test('a forced refresh within 10 s of the last grant gets that grant\'s token; from the restricted socket within 60 s', async () => {
    const disk = new MemoryDisk();
    disk.write('auth.json', login('a', T0 + HOUR));
    const { issuer, grants } = stubIssuer();
    const slot = slotOn(disk, issuer);
    assert.equal(await slot.ensureFresh(true), null);
    const first = slot.held()!.record.tokens.access_token;
    for (let i = 0; i < 50; i++) assert.equal(await slot.ensureFresh(true), null);
    assert.equal(grants.length, 1);
    assert.equal(slot.held()!.record.tokens.access_token, first);
    mock.timers.tick(FORCED_REFRESH_REUSE_MS - 1);
    await slot.ensureFresh(true);
    assert.equal(grants.length, 1);
    mock.timers.tick(1);
    await slot.ensureFresh(true);
    assert.equal(grants.length, 2);
    mock.timers.tick(RESTRICTED_FORCED_REFRESH_GAP_MS - 1);
    await slot.ensureFresh(true, RESTRICTED_FORCED_REFRESH_GAP_MS);
    assert.equal(grants.length, 2, 'the restricted socket waits longer');
    mock.timers.tick(1);
    await slot.ensureFresh(true, RESTRICTED_FORCED_REFRESH_GAP_MS);
    assert.equal(grants.length, 3);
  });

  test('a forced refresh never skips the backoff of a passing failure: it gets the failure, and no grant is spent', async () => {
    mock.method(Math, 'random', () => 0.5);
    const disk = new MemoryDisk();
    disk.write('auth.json', login('a', T0 + HOUR));
    let fail = true;
    const { issuer, grants } = stubIssuer((rt) => {
      if (fail) throw new IssuerError('the issuer answered 503', 'transient');
      return rotated(rt);
    });
    const slot = slotOn(disk, issuer);
    assert.equal(await slot.ensureFresh(true), 'the issuer answered 503');
    assert.equal(slot.transient?.retryAt, T0 + 500);
    fail = false;
    for (let i = 0; i < 20; i++) assert.equal(await slot.ensureFresh(true), 'the issuer answered 503');
    assert.equal(grants.length, 1);
    mock.timers.tick(500);
    await settle();
    assert.equal(await slot.ensureFresh(true), null);
    assert.equal(grants.length, 2, 'the retry, by schedule; the forced refresh right after it shares its token');
  });

  test('callers during one refresh share it: one grant', async () => {
    const disk = new MemoryDisk();
    disk.write('auth.json', login('a', T0 + HOUR));
    const { issuer, grants } = stubIssuer();
    const slot = slotOn(disk, issuer);
    const results = await Promise.all([slot.ensureFresh(true), slot.ensureFresh(true), slot.ensureFresh(true)]);
    assert.deepEqual(results, [null, null, null]);
    assert.equal(grants.length, 1);
  });
});

describe('a switch between slots', () => {
  /** Real timers here: every token is valid for an hour from now, so no refresh is due by schedule. */
  const LATER = Date.now() + HOUR;
  afterEach(() => mock.restoreAll());

  /** A daemon on a fresh disk where auth.json holds A and an account file holds B, loaded. */
  async function aActiveBInFile() {
    const disk = new MemoryDisk();
    const a = login('a', LATER);
    const b = login('b', LATER);
    disk.write('auth.json', a);
    disk.write(accountKey(b), b);
    const { issuer } = stubIssuer();
    const { active, accounts, moves } = daemonOn(disk, issuer);
    await accounts.load(null);
    return { disk, a, b, active, accounts, moves };
  }

  /** auth.json holds A, an account file B; a switch to B is allowed `writes` writes before the process dies. */
  async function switchKilledAfter(writes: number): Promise<MemoryDisk> {
    const { disk, b, active, accounts, moves } = await aActiveBInFile();
    disk.writesLeft = writes;
    const done = await moves.activate(accountKey(b), null).then(
      () => true,
      () => false,
    );
    // The last write (removing the incoming account's file) may fail: the next start removes it.
    assert.equal(done, writes >= 2, `a switch makes 3 writes; ${writes} allowed`);
    if (done) assert.equal(accountKey(active.login()!), accountKey(b));
    active.dispose();
    accounts.stop();
    return disk;
  }

  function daemonOn(disk: MemoryDisk, issuer: IssuerClient) {
    const active = AccountSlot.refreshed(disk.storage('auth.json'), issuer, OPTIONS, log);
    active.adopt(disk.read('auth.json'));
    const accounts = new AccountRegistry(active, disk.inactiveStore(), issuer, OPTIONS, log, () => undefined);
    const moves = new AccountMoves(disk.storage('auth.json'), active, accounts, issuer, log);
    return { active, accounts, moves };
  }

  /** A start on `disk`, as AccountService.start does it; returns every account's key, where it is. */
  async function restart(disk: MemoryDisk): Promise<{ active: string; inactive: string[] }> {
    disk.writesLeft = Infinity;
    const { issuer } = stubIssuer();
    const { active, accounts, moves } = daemonOn(disk, issuer);
    for (const key of await accounts.load(null)) await moves.removeCopyOfActive(key);
    const result = { active: accountKey(active.login()!), inactive: accounts.inactiveKeys().sort() };
    active.dispose();
    accounts.stop();
    return result;
  }

  for (const writes of [0, 1, 2, 3]) {
    test(`killed after ${writes} of its 3 writes, every account is still there once after the next start`, async () => {
      const disk = await switchKilledAfter(writes);
      const a = accountKey(login('a', 0));
      const b = accountKey(login('b', 0));
      const { active, inactive } = await restart(disk);
      // Before (b) auth.json still holds A; from (b) on, B.
      assert.equal(active, writes >= 2 ? b : a);
      assert.deepEqual(inactive, [writes >= 2 ? a : b]);
      assert.deepEqual([...disk.entries.keys()].sort(), ['auth.json', writes >= 2 ? a : b].sort());
    });
  }

  test('a write of auth.json that fails takes back the outgoing copy: nothing changed', async () => {
    const { disk, a, b, active, accounts, moves } = await aActiveBInFile();
    const original = disk.write.bind(disk);
    mock.method(disk, 'write', (name: string, record: AuthRecord | null) => {
      if (name === 'auth.json') throw new Error('ENOSPC');
      original(name, record);
    });
    await assert.rejects(moves.activate(accountKey(b), null), /ENOSPC/);
    assert.deepEqual([...disk.entries.keys()].sort(), ['auth.json', accountKey(b)].sort());
    assert.equal(accountKey(active.login()!), accountKey(a));
    assert.deepEqual(accounts.inactiveKeys(), [accountKey(b)]);
    active.dispose();
    accounts.stop();
  });

  test('a switch waits for a refresh of the incoming account in flight, and moves its rotated login', async () => {
    const disk = new MemoryDisk();
    const b = login('b', LATER);
    disk.write('auth.json', login('a', LATER));
    disk.write(accountKey(b), b);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { issuer, grants } = stubIssuer(async (rt) => {
      await held;
      return rotated(rt);
    });
    const { active, accounts, moves } = daemonOn(disk, issuer);
    await accounts.load(null);
    const refreshing = accounts.inactive(accountKey(b))!.ensureFresh(true);
    await turn();
    const switching = moves.activate(accountKey(b), null);
    await settle();
    assert.equal(accountKey(active.login()!), accountKey(login('a', 0)), 'the switch waits for the refresh');
    release();
    await Promise.all([refreshing, switching]);
    assert.equal(grants.length, 1);
    assert.equal(active.held()!.record.tokens.refresh_token, 'rt-b-0+');
    active.dispose();
    accounts.stop();
  });
});
