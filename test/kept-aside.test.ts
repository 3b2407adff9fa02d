// auth.json's store in-process (daemon/auth/store.ts, daemon/auth/kept-aside.ts): it never
// writes a file it would refuse to read back, and keeps only the newest few unusable files aside.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { COPIES_KEPT } from '../daemon/auth/kept-aside.js';
import { AuthStore, type AuthRecord } from '../daemon/auth/store.js';

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function home(): AuthStore {
  const dir = mkdtempSync(join(tmpdir(), 'cxd-aside-'));
  dirs.push(dir);
  return new AuthStore(join(dir, 'home'), 5000);
}

const copiesOf = (store: AuthStore): string[] => readdirSync(store.codexHome).filter((name) => name.startsWith('auth.json.corrupt-')).sort();
const login = (apiKey: string): AuthRecord => ({ auth_mode: 'apikey', OPENAI_API_KEY: apiKey });

describe('the copies of unusable files kept aside', () => {
  it(`keeps the newest ${COPIES_KEPT} beside auth.json, the oldest removed first, and leaves a folder moved aside alone`, async () => {
    const store = home();
    store.ensureHome();
    mkdirSync(join(store.codexHome, 'auth.json.corrupt-0000-a-folder'));
    for (let i = 1; i <= 6; i++) {
      writeFileSync(store.file, `junk ${i}`, { mode: 0o600 });
      const aside = await store.save(login(`sk-key-${i}`));
      assert.equal(readFileSync(aside!, 'utf8'), `junk ${i}`);
      await sleep(2); // copies are named by the millisecond
    }
    const copies = copiesOf(store);
    assert.equal(copies[0], 'auth.json.corrupt-0000-a-folder', 'a folder is never removed');
    assert.deepEqual(copies.slice(1).map((name) => readFileSync(join(store.codexHome, name), 'utf8')), ['junk 4', 'junk 5', 'junk 6']);
  });
});

describe('a login too large to read back', () => {
  it('is refused before anything is written: auth.json and its copies stay as they were', async () => {
    const store = home();
    await store.save(login('sk-small'));
    const before = readFileSync(store.file, 'utf8');
    // 500 kB of invalid UTF-8 arrives as 1.5 MB of U+FFFD: more than the 1 MiB codexd reads.
    const huge = Buffer.alloc(500_000, 0xff).toString('utf8');
    await assert.rejects(store.save(login(huge)), { name: 'StoreError', message: /^refusing to save a login of 1500\d+ bytes: codexd reads back at most 1 MiB of auth\.json/ });
    assert.equal(readFileSync(store.file, 'utf8'), before);
    assert.deepEqual(copiesOf(store), []);
    assert.deepEqual(readdirSync(store.codexHome).filter((name) => name.startsWith('.auth-')), [], 'no temp file');
  });
});
