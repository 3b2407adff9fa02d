// Windows, under Wine (npm run test:windows): auth.json as a Windows Codex shares it. A login by
// device code and its refresh against the fake issuer (through undici, which Wine refuses keep-alive
// on a pending socket for); auth.lock held by another process with the lock Codex takes there
// (Rust's File::lock: LockFileEx over its whole range) delays codexd's write until it is let go;
// and auth.json is replaced while another process holds it open for reading without
// FILE_SHARE_DELETE, which Windows' rename refuses until the reader closes it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { startFakeIssuer, type FakeIssuer } from '../../support/fake-issuer.js';
import { cli, client, fileSandbox, killAtEnd, root, startDaemon, stopDaemons, waitFor, watch, type Daemon, type Sandbox } from '../helpers.js';

const daemons: Daemon[] = [];
const issuers: FakeIssuer[] = [];
after(async () => {
  await stopDaemons(daemons);
  for (const issuer of issuers) await issuer.close();
});

async function withIssuer(): Promise<{ issuer: FakeIssuer; box: Sandbox; daemon: Daemon }> {
  const issuer = await startFakeIssuer();
  issuers.push(issuer);
  const box = fileSandbox({ CODEXD_ISSUER: issuer.url, CODEXD_LOGIN_PORT: '0' });
  const daemon = await startDaemon(box);
  daemons.push(daemon);
  return { issuer, box, daemon };
}

/**
 * Another process holding `path` the Windows way, until its stdin closes: `lock` is Codex's
 * LockFileEx over offset 0, length 2^64 - 1 (Rust's File::lock); `open` is a reader that opened
 * the file without FILE_SHARE_DELETE (CreateFileW with FILE_SHARE_READ only).
 */
async function holder(kind: 'lock' | 'open', path: string): Promise<ChildProcess> {
  const script = `
    const koffi = require('koffi');
    const k = koffi.load('kernel32.dll');
    const CreateFileW = k.func('intptr __stdcall CreateFileW(const char16_t *n, uint32 a, uint32 s, void *sa, uint32 d, uint32 f, void *t)');
    koffi.struct('OVL', { a: 'uintptr', b: 'uintptr', Offset: 'uint32', OffsetHigh: 'uint32', e: 'void *' });
    const LockFileEx = k.func('bool __stdcall LockFileEx(intptr h, uint32 f, uint32 r, uint32 l, uint32 hi, _Inout_ OVL *o)');
    const lock = ${JSON.stringify(kind)} === 'lock';
    const h = CreateFileW(${JSON.stringify(path)}, 0xC0000000, lock ? 7 : 1, null, lock ? 4 : 3, 0x80, null);
    if (h === -1) throw new Error('CreateFileW failed');
    if (lock && !LockFileEx(h, 2, 0, 0xFFFFFFFF, 0xFFFFFFFF, { a: 0, b: 0, Offset: 0, OffsetHigh: 0, e: null })) throw new Error('LockFileEx failed');
    console.log('held');
    process.stdin.resume();
    process.stdin.on('end', () => process.exit(0));`;
  const child = spawn(process.execPath, ['-e', script], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  killAtEnd(child);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`the holder exited with ${code}`)));
  });
  return child;
}

describe('auth.json on Windows (under Wine)', () => {
  it('a device-code login and a refresh, against the fake issuer, through undici', async () => {
    const { issuer, box } = await withIssuer();
    issuer.devicePendingPolls = 0;
    issuer.accessTokenTtlS = 3600;
    const login = await cli(box, ['login', '--device-auth'], { timeoutMs: 60_000 });
    assert.equal(login.code, 0, login.stderr);
    const first = JSON.parse(readFileSync(`${box.codexHome}\\auth.json`, 'utf8')) as { tokens: { refresh_token: string } };
    const token = await cli(box, ['token', '--force-refresh']);
    assert.equal(token.code, 0, token.stderr);
    assert.equal(issuer.count('/oauth/token', 'refresh_token'), 1);
    const second = JSON.parse(readFileSync(`${box.codexHome}\\auth.json`, 'utf8')) as { tokens: { refresh_token: string; access_token: string } };
    assert.notEqual(second.tokens.refresh_token, first.tokens.refresh_token, 'the rotated refresh token is written');
    assert.equal(token.stdout, `${second.tokens.access_token}\n`);
  });

  it("auth.lock held by another process with Codex's LockFileEx delays the write until it is released", async () => {
    const { box } = await withIssuer();
    const watcher = await client(box);
    const { updates } = watch(watcher);
    mkdirSync(box.codexHome, { recursive: true });
    const held = await holder('lock', `${box.codexHome}\\auth.lock`);
    const login = cli(box, ['login', '--with-api-key'], { input: 'sk-locked-0123456789\n', timeoutMs: 30_000 });
    // The login waits for the lock: nothing is written while it is held.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.throws(() => readFileSync(`${box.codexHome}\\auth.json`), { code: 'ENOENT' });
    assert.equal(updates.values.length, 0);
    held.stdin!.end();
    assert.equal((await login).code, 0);
    await updates.next((status) => status.account?.type === 'apiKey');
    assert.equal((JSON.parse(readFileSync(`${box.codexHome}\\auth.json`, 'utf8')) as { OPENAI_API_KEY: string }).OPENAI_API_KEY, 'sk-locked-0123456789');
    await watcher.close();
  });

  it('auth.json is replaced while another process reads it without FILE_SHARE_DELETE, once that reader lets go', async () => {
    const { box } = await withIssuer();
    mkdirSync(box.codexHome, { recursive: true });
    assert.equal((await cli(box, ['login', '--with-api-key'], { input: 'sk-first-0123456789\n' })).code, 0);
    const reader = await holder('open', `${box.codexHome}\\auth.json`);
    const login = cli(box, ['login', '--with-api-key'], { input: 'sk-second-0123456789\n', timeoutMs: 30_000 });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    reader.stdin!.end();
    const run = await login;
    assert.equal(run.code, 0, run.stderr);
    await waitFor(() => readFileSync(`${box.codexHome}\\auth.json`, 'utf8').includes('sk-second-0123456789'), 'the new key in auth.json');
  });
});
