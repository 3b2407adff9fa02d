// A corrupt or truncated auth.json, and a ChatGPT file whose id_token is broken. codexd says
// what is wrong with it (status, token error, codex-auth status), never writes over it on its own
// (not at start, not on a schedule, not when asked for a token), and when a login or logout does
// replace it, keeps the exact old bytes aside in a 0600 auth.json.corrupt-<time>. An auth.json
// that is not a regular file (a FIFO, /dev/zero, a 1 GiB sparse file) neither blocks the daemon
// nor fills its memory, and is moved aside whole.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ErrorCodes } from '../../client/index.js';
import type { FakeIssuer } from '../../support/fake-issuer.js';
import { authPath, cli, hasAuth, readAuth, sleep } from '../helpers.js';
import { fixture, probeLock, writeAtomically } from '../refresh-support.js';
import { peakRssKiB, suite } from './support.js';

const s = suite('corrupt auth.json');

interface Corrupt {
  name: string;
  contents(issuer: FakeIssuer): string;
  /** What the reason must say. */
  reason: RegExp;
}

const cases: Corrupt[] = [
  { name: 'not JSON at all', contents: () => 'this is not json\n', reason: /not valid JSON/ },
  { name: 'empty (a writer died before writing)', contents: () => '', reason: /not valid JSON/ },
  { name: 'binary garbage', contents: () => '\u0000\u0001\u00ff\ufffd{{{', reason: /not valid JSON/ },
  {
    name: 'a Codex record truncated halfway',
    contents: (issuer) => {
      const raw = fixture(issuer.mintTokens(), issuer.account).raw;
      return raw.slice(0, Math.floor(raw.length / 2));
    },
    reason: /not valid JSON/,
  },
  { name: 'a JSON array', contents: () => '[]', reason: /does not hold a JSON object/ },
  {
    name: 'a ChatGPT record whose id_token is not a JWT',
    contents: (issuer) => {
      const tokens = issuer.mintTokens();
      return fixture({ ...tokens, id_token: 'eyJhbGciOiJub25lIn0.not-base64-json.sig' }, issuer.account).raw;
    },
    reason: /id_token is not a valid JWT/,
  },
  {
    name: 'a ChatGPT record whose id_token is cut short',
    contents: (issuer) => {
      const tokens = issuer.mintTokens();
      return fixture({ ...tokens, id_token: tokens.id_token.split('.').slice(0, 2).join('.') }, issuer.account).raw;
    },
    reason: /id_token is not a valid JWT/,
  },
  {
    name: 'a ChatGPT record without a refresh token',
    contents: (issuer) => {
      const raw = JSON.parse(fixture(issuer.mintTokens(), issuer.account).raw) as { tokens: Record<string, unknown> };
      delete raw.tokens['refresh_token'];
      return JSON.stringify(raw, null, 2);
    },
    reason: /refresh_token is missing/,
  },
];

const API_KEY = 'sk-replaces-corrupt-0123456789abcdef';
s.secret('API key (corrupt tests)', API_KEY);

function asides(codexHome: string): string[] {
  return readdirSync(codexHome).filter((name) => name.startsWith('auth.json.corrupt-'));
}

describe('a corrupt auth.json at start', () => {
  for (const c of cases) {
    it(`${c.name}: reported with the reason, left alone, and kept aside when a login replaces it`, async () => {
      const issuer = await s.issuer();
      const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_TICK_S: '1' });
      const corrupt = c.contents(issuer);
      writeAtomically(box.codexHome, corrupt);
      const file = authPath(box);
      chmodSync(file, 0o644);
      const daemon = await s.daemon(box);
      const { client: cl, updates } = await s.watcher(box);

      const status = await cl.read({ refreshToken: true });
      assert.equal(status.state, 'loggedOut');
      assert.equal(status.account, null);
      assert.match(String(status.reauthReason), /^auth\.json cannot be used: /);
      assert.match(String(status.reauthReason), c.reason);
      const error = await s.rpcError(cl.token({ forceRefresh: true }));
      assert.equal(error.code, ErrorCodes.notLoggedIn);
      assert.match(error.message, c.reason);
      const run = await cli(box, ['status'], { env: { CODEXD_NO_AUTOSTART: '1' } });
      assert.equal(run.code, 1);
      assert.match(run.stdout + run.stderr, c.reason);

      await sleep(1200); // a tick passes
      await daemon.stop();
      await s.daemon(box); // and a restart
      assert.equal(readFileSync(file, 'utf8'), corrupt, 'never overwritten without a login');
      assert.equal(issuer.requests.length, 0, 'nothing was sent to the issuer');
      assert.deepEqual(asides(box.codexHome), []);

      const replacer = await s.client(box);
      await replacer.loginStart({ type: 'apiKey', apiKey: API_KEY });
      const kept = asides(box.codexHome);
      assert.equal(kept.length, 1, `kept aside once: ${kept.join(', ')}`);
      assert.equal(readFileSync(join(box.codexHome, kept[0]!), 'utf8'), corrupt, 'the exact old bytes are kept');
      assert.equal(statSync(join(box.codexHome, kept[0]!)).mode & 0o777, 0o600, 'the copy is private, whatever the old mode');
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).OPENAI_API_KEY, API_KEY);
      await updates.next((u) => u.account?.type === 'apiKey'); // the watcher reconnected by itself and hears it
    });
  }
});

describe('a corrupt auth.json appearing while the daemon runs', () => {
  it('an outside writer breaks the file: the change is announced with the reason, and no refresh or token call writes over it', async () => {
    const issuer = await s.issuer();
    const box = s.box({ CODEXD_ISSUER: issuer.url, CODEXD_TICK_S: '1' });
    writeAtomically(box.codexHome, fixture(issuer.mintTokens({ accessExpiresInS: 3600 }), issuer.account).raw);
    await s.daemon(box);
    const { client: c, updates } = await s.watcher(box);
    assert.equal((await c.read()).state, 'ok');
    const broken = '{"auth_mode": "chatgpt", "OPENAI_API_KEY": null, "tokens": {"id_token": "x.y';
    writeAtomically(box.codexHome, broken);
    const announced = await updates.next((u) => u.reauthReason !== null);
    assert.equal(announced.state, 'loggedOut');
    assert.match(String(announced.reauthReason), /not valid JSON/);
    assert.equal((await s.rpcError(c.token({ forceRefresh: true }))).code, ErrorCodes.notLoggedIn);
    await sleep(1200);
    assert.equal(readAuth(box), broken);
    assert.equal(issuer.count('/oauth/token'), 0);
  });

  it('a logout removes a corrupt file only after keeping it aside', async () => {
    const box = s.box();
    const broken = '{"auth_mode": "apikey", "OPENAI_API_KEY": 42}';
    writeAtomically(box.codexHome, broken);
    await s.daemon(box);
    const c = await s.client(box);
    assert.match(String((await c.read()).reauthReason), /OPENAI_API_KEY is not a string/);
    await c.logout();
    assert.equal(hasAuth(box), false);
    const kept = asides(box.codexHome);
    assert.equal(kept.length, 1);
    assert.equal(readFileSync(join(box.codexHome, kept[0]!), 'utf8'), broken);
  });
});

interface NotAFile {
  name: string;
  make(file: string): void;
  reason: RegExp;
  /** What is found at auth.json.corrupt-<time> once a login has replaced it. */
  movedAside(aside: string): void;
}

const notFiles: NotAFile[] = [
  {
    name: 'a FIFO',
    make: (file) => execFileSync('mkfifo', ['-m', '600', file]),
    reason: /auth\.json is not a regular file \(it is a FIFO\)/,
    movedAside: (aside) => assert.ok(lstatSync(aside).isFIFO()),
  },
  {
    name: 'a symlink to /dev/zero',
    make: (file) => symlinkSync('/dev/zero', file),
    reason: /auth\.json is not a regular file \(it is a character device\)/,
    movedAside: (aside) => assert.equal(readlinkSync(aside), '/dev/zero', 'the link is moved, not its target'),
  },
  {
    name: 'a 1 GiB sparse file (mode 0644)',
    make: (file) => {
      writeFileSync(file, '', { mode: 0o644 });
      truncateSync(file, 2 ** 30);
    },
    reason: /auth\.json is larger than 1 MiB/,
    movedAside: (aside) => {
      const moved = statSync(aside);
      assert.equal(moved.size, 2 ** 30, 'moved whole');
      assert.equal(moved.mode & 0o777, 0o600);
    },
  },
];

/** Far below the ~600 MiB that reading /dev/zero or the sparse file whole peaked at. */
const PEAK_RSS_LIMIT_KIB = 200 * 1024;

describe('an auth.json that is not a regular file', () => {
  for (const c of notFiles) {
    it(`${c.name} at start: the daemon starts, says why, stays small, and a login moves it aside`, { timeout: 60_000 }, async () => {
      const box = s.box();
      mkdirSync(box.codexHome, { recursive: true, mode: 0o700 });
      const file = authPath(box);
      c.make(file);
      const daemon = await s.daemon(box); // gives up after 5 s: a start-up blocked on the file fails here
      const cl = await s.client(box);
      const status = await cl.read();
      assert.equal(status.state, 'loggedOut');
      assert.match(String(status.reauthReason), c.reason);
      assert.equal((await s.rpcError(cl.token({ forceRefresh: false }))).code, ErrorCodes.notLoggedIn);
      const peak = peakRssKiB(daemon.pid);
      assert.ok(peak < PEAK_RSS_LIMIT_KIB, `peak RSS ${peak} KiB`);

      await cl.loginStart({ type: 'apiKey', apiKey: API_KEY });
      const kept = asides(box.codexHome);
      assert.equal(kept.length, 1, `moved aside once: ${kept.join(', ')}`);
      c.movedAside(join(box.codexHome, kept[0]!));
      assert.equal(JSON.parse(readFileSync(file, 'utf8')).OPENAI_API_KEY, API_KEY);
    });
  }

  it('a FIFO renamed over auth.json while the daemon runs: announced, and the next write neither hangs nor keeps the locks', { timeout: 60_000 }, async () => {
    const box = s.box();
    writeAtomically(box.codexHome, JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: API_KEY }, null, 2));
    await s.daemon(box);
    const { client: cl, updates } = await s.watcher(box);
    const fifo = join(box.codexHome, 'fifo.tmp');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    renameSync(fifo, authPath(box));
    const announced = await updates.next((u) => u.reauthReason !== null);
    assert.match(String(announced.reauthReason), /not a regular file \(it is a FIFO\)/);

    await cl.logout();
    assert.equal(hasAuth(box), false);
    assert.ok(lstatSync(join(box.codexHome, asides(box.codexHome)[0]!)).isFIFO(), 'the FIFO is kept aside');
    assert.equal(await probeLock(join(box.codexHome, 'auth.lock')), 0, 'auth.lock is free again');
    assert.equal(await probeLock(join(box.codexHome, 'auth.json.lock')), 0, 'auth.json.lock is free again');
  });
});

/** codexd's other files (issue 19 item 8): each read like auth.json, so none can stop a start or fill memory. */
const ownFiles: Array<{ name: string; path(box: ReturnType<typeof s.box>): string }> = [
  { name: 'names.json', path: (box) => join(box.codexHome, 'codexd', 'names.json') },
  { name: 'an account file', path: (box) => join(box.codexHome, 'codexd', 'accounts', 'chatgpt-0123456789abcdef.json') },
  { name: "Codex's config.toml", path: (box) => join(box.codexHome, 'config.toml') },
];

describe("codexd's other files, when they are not regular files", () => {
  for (const kind of notFiles.slice(0, 2)) {
    for (const own of ownFiles) {
      it(`${kind.name} at ${own.name}: the daemon starts, serves, and stays small`, { timeout: 60_000 }, async () => {
        const box = s.box();
        const file = own.path(box);
        mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
        writeAtomically(box.codexHome, JSON.stringify({ auth_mode: 'apikey', OPENAI_API_KEY: API_KEY }, null, 2));
        kind.make(file);
        const daemon = await s.daemon(box); // gives up after 5 s: a start-up blocked on the file fails here
        const status = await cli(box, ['status']);
        assert.equal(status.code, 0, status.stdout + status.stderr);
        assert.match(status.stdout, /API key/);
        const peak = peakRssKiB(daemon.pid);
        assert.ok(peak < PEAK_RSS_LIMIT_KIB, `peak RSS ${peak} KiB`);
      });
    }

    it(`${kind.name} at the settings file: codexd and codex-auth each refuse it in one line at once`, { timeout: 60_000 }, async () => {
      const box = s.box();
      const file = join(box.env['XDG_CONFIG_HOME']!, 'codexd', 'config.json');
      mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
      kind.make(file);
      const expected = `settings file ${file} is unreadable: it is not a regular file (it is ${kind.name === 'a FIFO' ? 'a FIFO' : 'a character device'}); fix or remove it`;
      const status = await cli(box, ['status']); // times out (and fails) if the read waits for a writer
      assert.equal(status.code, 2, status.stdout + status.stderr);
      assert.equal(status.stderr, `codex-auth: ${expected}\n`);
      const daemon = await s.daemon(box, { waitReady: false });
      const exited = await Promise.race([daemon.exited, sleep(10_000).then(() => null)]);
      assert.equal(exited?.code, 2, `codexd must exit at once: ${daemon.stderr()}`);
      assert.equal(daemon.stderr(), `codexd: ${expected}\n`);
    });
  }
});
