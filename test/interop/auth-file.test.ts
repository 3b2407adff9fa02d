// Interop (issue 2): the auth.json that codexd writes for an API-key login is, byte for byte and
// mode for mode, the file the real Codex CLI 0.169.0 writes for the same key.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, sandbox, startDaemon, type Sandbox } from '../helpers.js';
import { codexEnv, ensureCodex, firstDifference, runCodex, withoutTmpWarning } from './codex-cli.js';

const KEY = 'sk-proj-interop-bytes-abcdefghijklmnopqrstuvwxyz0123456789';

const boxes: Sandbox[] = [];

before(() => {
  ensureCodex();
});

after(() => {
  for (const box of boxes) box.cleanup();
});

function mode(path: string): string {
  return (statSync(path).mode & 0o777).toString(8).padStart(4, '0');
}

test('auth.json from codex-auth login --with-api-key equals the file codex login --with-api-key writes', async (t) => {
  const b = sandbox();
  boxes.push(b);

  // codexd's file, in codexd's CODEX_HOME.
  const daemon = await startDaemon(b);
  try {
    const login = await cli(b, ['login', '--with-api-key'], { input: KEY });
    assert.equal(login.code, 0, login.stderr);
  } finally {
    await daemon.stop();
  }

  // Codex's file for the same key, in a CODEX_HOME of its own (Codex wants it to exist already).
  const codexHome = join(b.dir, 'codex-own-home');
  mkdirSync(codexHome, { mode: 0o700 });
  const codexLogin = await runCodex(['login', '--with-api-key'], codexEnv(b, { CODEX_HOME: codexHome }), { input: KEY });
  t.diagnostic(`printf KEY | codex login --with-api-key (exit ${codexLogin.code}) printed on stderr: ${JSON.stringify(withoutTmpWarning(codexLogin.stderr))}`);
  assert.equal(codexLogin.code, 0, codexLogin.stderr);

  const ours = readFileSync(join(b.codexHome, 'auth.json'));
  const theirs = readFileSync(join(codexHome, 'auth.json'));
  t.diagnostic(`Codex's auth.json (${theirs.length} bytes): ${JSON.stringify(theirs.toString('utf8').replace(KEY, '<KEY>'))}`);
  const difference = firstDifference(theirs, ours);
  assert.equal(difference, null, `codexd's auth.json differs from Codex's: ${difference}`);
  assert.ok(ours.equals(theirs));
  JSON.parse(ours.toString('utf8'));

  assert.equal(mode(join(b.codexHome, 'auth.json')), mode(join(codexHome, 'auth.json')), 'auth.json modes');
  assert.equal(mode(join(b.codexHome, 'auth.json')), '0600');

  // Informational: the lock files each program leaves behind, and their modes.
  const locks = (home: string): string =>
    readdirSync(home)
      .filter((name) => name.endsWith('.lock'))
      .sort()
      .map((name) => `${name} ${mode(join(home, name))}`)
      .join(', ');
  t.diagnostic(`lock files left by codexd: ${locks(b.codexHome)}; by Codex: ${locks(codexHome)}`);
  assert.deepEqual(readdirSync(b.codexHome).filter((name) => name.startsWith('.auth-')), [], 'codexd leaves no temp file');
  assert.deepEqual(readdirSync(codexHome).filter((name) => name.startsWith('.auth-')), [], 'Codex leaves no temp file');
});
