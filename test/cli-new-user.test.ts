// codex-auth the way a new user met it (issue 25): "did you mean" for commands and options, every
// failure line starting with `codex-auth:` and in the user's words, the account a login saved,
// a login cancelled from elsewhere, the login menu, config, logs -n, and daemon stop/restart with
// clients connected. Each asserts what is printed and the exit status.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, fileSandbox, killAtEnd, root, startCli, startDaemon, stopDaemons, waitFor } from './helpers.js';
import { finishWorlds, world } from './login-support.js';
import { cliOnPty } from './pty.js';

after(finishWorlds);

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const API_KEY = 'sk-proj-new-user-0123456789abcdefWXYZ';
const ROTATED = 'sk-proj-new-user-rotated-9876543210LMNO';

describe('did you mean', () => {
  it('names the command or option meant by a typo, in one line, exit 2', async () => {
    const w = await world('did you mean');
    for (const [args, line] of [
      [['statu'], 'codex-auth: unknown command "statu"; did you mean `codex-auth status`?'],
      [['acounts'], 'codex-auth: unknown command "acounts"; did you mean `codex-auth accounts`?'],
      [['daemon', 'stp'], 'codex-auth: unknown command "daemon stp"; did you mean `codex-auth daemon stop`?'],
      [['login', 'stauts'], 'codex-auth: unknown command "login stauts"; did you mean `codex-auth login status`?'],
      [['--verison'], 'codex-auth: unknown option --verison; did you mean --version? (codex-auth --help lists them)'],
      [['frobnicate'], 'codex-auth: unknown command "frobnicate"; run `codex-auth --help`'],
    ] as const) {
      assert.deepEqual(await cli(w.box, [...args]), { code: 2, stdout: '', stderr: `${line}\n` }, args.join(' '));
    }
  });
});

describe('failures in the user\'s words', () => {
  it('token --account of no such account starts with codex-auth: (exit 1); a name that cannot be one is refused before anything is sent (exit 2)', async () => {
    const w = await world('user words');
    const nope = await cli(w.box, ['token', '--account', 'nope']);
    assert.equal(nope.code, 1);
    assert.equal(nope.stdout, '');
    assert.match(nope.stderr, /^codex-auth: [^\n]*nope[^\n]*\n$/);
    for (const args of [['switch', 'x y'], ['token', '--account', 'x y'], ['login', '--with-api-key', '--name', 'x y'], ['logout', 'x y']]) {
      const run = await cli(w.box, args, { input: API_KEY });
      assert.deepEqual(run, { code: 2, stdout: '', stderr: 'codex-auth: the name "x y" is not allowed: a name is 1 to 64 letters, digits and . _ @ + -, starting with a letter or digit\n' }, args.join(' '));
    }
    assert.doesNotMatch(JSON.stringify(await w.watcher.accounts()), /x y/);
  });
});

describe('login says which account it saved', () => {
  it('login --with-api-key --name names the account and that it is the active one; the same name again replaces the key and says so', async () => {
    const w = await world('login names the account');
    w.extraSecrets.push({ label: 'API key', value: API_KEY }, { label: 'API key', value: ROTATED });
    const first = await cli(w.box, ['login', '--with-api-key', '--name', 'personal'], { input: API_KEY });
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, 'Logged in using an API key - sk-proj-***fWXYZ\nAccount personal, now the active one (the one Codex uses)\n');
    const rotated = await cli(w.box, ['login', '--with-api-key', '--name', 'personal'], { input: ROTATED });
    assert.equal(rotated.code, 0, rotated.stderr);
    assert.equal(rotated.stdout, 'Logged in using an API key - sk-proj-***0LMNO\nReplaced the API key of account personal, now the active one (the one Codex uses)\n');
    assert.deepEqual((await w.watcher.accounts()).map((account) => [account.name, account.type, account.active]), [['personal', 'apiKey', true]], 'one account, with the new key');
    assert.deepEqual(await w.watcher.token(), { type: 'apiKey', apiKey: ROTATED });
  });

  it('a login cancelled from another terminal says "Login cancelled." and exits 1', async () => {
    const w = await world('cancelled elsewhere');
    w.issuer.devicePendingPolls = Infinity;
    const login = startCli(w.box, ['login', '--device-auth']);
    await w.updates.next((s) => s.login !== null, 15_000);
    const poll = await waitFor(() => w.issuer.requests.find((r) => r.path === '/api/accounts/deviceauth/token'), 'the daemon to poll for the code');
    w.shown.push(String(poll.body['user_code']));
    const cancel = await cli(w.box, ['login', '--cancel']);
    assert.deepEqual(cancel, { code: 0, stdout: 'Cancelled the pending device-code login.\n', stderr: '' });
    assert.equal(await login.exited, 1);
    assert.equal(login.stderr(), 'Waiting for you to enter the code (Ctrl-C to cancel)\ncodex-auth: Login cancelled.\n');
  });
});

describe('the login menu', () => {
  it('without a display the browser item says it prints a URL; a choice that is not one says so and asks again', async () => {
    const w = await world('menu');
    const pty = cliOnPty(w.box, ['login'], { DISPLAY: '', WAYLAND_DISPLAY: '' });
    await pty.shows('Choose [1-3, Enter for 1]: ');
    assert.match(pty.output(), /1\) Sign in with ChatGPT \(prints a URL to open in a browser elsewhere\)/);
    assert.doesNotMatch(pty.output(), /opens a browser/);
    pty.type('7\r');
    await pty.shows('codex-auth: "7" is not one of the choices: type a number from 1 to 3, or Enter for 1.');
    pty.type('\u0003');
    assert.equal(await pty.exitStatus(), 130, pty.output());
  });
});

describe('config', () => {
  it('list says when nothing is set and shows the defaults with --all; unset of a key not set says so; a client-only setting needs no restart', async () => {
    const b = fileSandbox();
    const file = join(b.env['XDG_CONFIG_HOME']!, 'codexd', 'config.json');
    const empty = await cli(b, ['config', 'list']);
    assert.deepEqual(empty, { code: 0, stdout: `Nothing is set in ${file}: every setting has its default (codex-auth config list --all shows them)\n`, stderr: '' });
    const all = await cli(b, ['config', 'list', '--all']);
    assert.equal(all.code, 0);
    assert.match(all.stdout, /^LOGIN_PORT=1455 {2}\(default\)$/m);
    assert.match(all.stdout, /^NO_AUTOSTART= {2}\(not set\)$/m);
    const set = await cli(b, ['config', 'set', 'NO_AUTOSTART', '1']);
    assert.deepEqual(set, { code: 0, stdout: `NO_AUTOSTART set to true in ${file}; codex-auth uses it from its next run\n`, stderr: '' });
    assert.match((await cli(b, ['config', 'list', '--all'])).stdout, /^NO_AUTOSTART=true$/m);
    const port = await cli(b, ['config', 'set', 'TICK_S', '60']);
    assert.match(port.stdout, /; a running codexd uses it once restarted \(codex-auth daemon restart\)\n$/);
    assert.deepEqual(await cli(b, ['config', 'unset', 'LOGIN_PORT']), { code: 0, stdout: `LOGIN_PORT was not set in ${file}; nothing changed\n`, stderr: '' });
    assert.deepEqual(await cli(b, ['config', 'unset', 'NO_AUTOSTART']), { code: 0, stdout: `NO_AUTOSTART removed from ${file}; codex-auth uses it from its next run\n`, stderr: '' });
  });
});

describe('logs -n', () => {
  it('prints only the last N entries; -f starts from the last 10, as tail -f does', async () => {
    const b = fileSandbox();
    const entries = Array.from({ length: 25 }, (_, i) => JSON.stringify({ level: 30, time: '2026-01-02T03:04:05.678Z', pid: 7, msg: `entry ${i + 1}` }));
    mkdirSync(dirname(b.logFile), { recursive: true });
    writeFileSync(b.logFile, `${entries.join('\n')}\n`);
    const last3 = await cli(b, ['logs', '-n', '3', '--json']);
    assert.deepEqual(last3, { code: 0, stdout: `${entries.slice(-3).join('\n')}\n`, stderr: '' });
    assert.equal((await cli(b, ['logs', '--json'])).stdout.split('\n').length, 26, 'all of them without -n');
    const follow = startCli(b, ['logs', '-f', '--json']);
    await waitFor(() => follow.stdout().includes('entry 25'), 'logs -f to print the end');
    assert.equal(follow.stdout(), `${entries.slice(-10).join('\n')}\n`);
    follow.child.kill();
    assert.deepEqual(await cli(b, ['logs', '-n', 'many']), { code: 2, stdout: '', stderr: 'codex-auth: -n needs a whole number from 0 to 1000000, got "many"\n' });
  });
});

describe('daemon stop and restart', () => {
  it('stop says how many clients are connected and that their next request starts codexd again; restart stops and starts it', async () => {
    const w = await world('daemon stop with clients');
    await w.client();
    const stop = await cli(w.box, ['daemon', 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal(stop.stdout, `codexd stopped (pid ${w.daemon.pid}); 2 clients were connected: the next request from one of them starts codexd again\n`);
    const restart = await cli(w.box, ['daemon', 'restart']);
    assert.equal(restart.code, 0, restart.stderr);
    assert.match(restart.stdout, /^codexd was not running\ncodexd started \(pid \d+, socket .*\)\n$/);
    const again = await cli(w.box, ['daemon', 'restart']);
    // The world's clients may have reconnected to the new daemon by now.
    assert.match(again.stdout, /^codexd stopped \(pid \d+\)(; \d clients? (was|were) connected: the next request from one of them starts codexd again)?\ncodexd started \(pid \d+, socket .*\)\n$/);
    await cli(w.box, ['daemon', 'stop']);
  });
});

describe('a busy login port that is not Codex\'s', () => {
  it('is not sent GET /cancel: the login fails in one line naming the port (exit 1)', async () => {
    const seen: string[] = [];
    const other = createServer((req, res) => {
      seen.push(req.url ?? '');
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const port = (other.address() as AddressInfo).port;
      const w = await world('unrelated port', { env: { CODEXD_LOGIN_PORT: String(port) } });
      const run = await cli(w.box, ['login', '--no-browser'], { env: { CODEXD_NO_AUTOSTART: '1' } });
      assert.deepEqual(run, {
        code: 1,
        stdout: '',
        stderr: `codex-auth: Login failed: Port ${port} is in use; another \`codex login\` may be running. Use \`codex-auth login --device-auth\`, or set CODEXD_LOGIN_PORT=0 to use any free port.\n`,
      });
      assert.deepEqual(seen, [], 'nothing was sent to the server on that port');
    } finally {
      other.closeAllConnections();
      await new Promise((resolve) => other.close(resolve));
    }
  });
});

describe('a follower\'s hints', () => {
  it('all point at the upstream machine: status, accounts and token when the upstream is logged out', async () => {
    const w = await world('follower hints');
    const fo = fileSandbox({ CODEXD_UPSTREAM: w.box.socket, CODEXD_ISSUER: w.issuer.url });
    const follower = await startDaemon(fo);
    try {
      const upstream = `the upstream codexd on ${w.box.socket} (CODEX_HOME ${w.box.codexHome} there)`;
      const status = await cli(fo, ['status']);
      assert.equal(status.code, 1);
      assert.match(status.stdout, new RegExp(`^Not logged in: ${escape(upstream)} answered: Not logged in\\.\nRun \`codex-auth login\` on the upstream machine\\.\n  upstream: `));
      assert.deepEqual(await cli(fo, ['accounts']), {
        code: 1,
        stdout: `No accounts here: this codexd follows the upstream codexd on ${w.box.socket}, where the accounts live; run \`codex-auth accounts\` there.\n`,
        stderr: '',
      });
      assert.deepEqual(await cli(fo, ['token']), { code: 1, stdout: '', stderr: `codex-auth: Not logged in: ${upstream} answered: Not logged in. Run \`codex-auth login\` on the upstream machine.\n` });
    } finally {
      await stopDaemons([follower]);
      fo.cleanup();
    }
  });
});

describe('the fake issuer for trying it by hand', () => {
  it('signs in as each --email it was given: two device-code logins, two accounts', async () => {
    const issuer = spawn(process.execPath, [join(root, 'dist', 'support', 'fake-issuer-main.js'), '--email', 'me@example.com', '--email', 'work@example.com', '--backend'], { stdio: ['ignore', 'pipe', 'ignore'] });
    killAtEnd(issuer);
    let banner = '';
    issuer.stdout.on('data', (chunk: Buffer) => (banner += chunk.toString()));
    const b = fileSandbox();
    try {
      await waitFor(() => /Ctrl-C stops it/.test(banner), 'the fake issuer to start');
      assert.match(banner, /^Signs in as me@example\.com or work@example\.com \(the sign-in pages ask which\); /m);
      assert.match(banner, /^ {2}chatgpt_base_url = "http:\/\/127\.0\.0\.1:\d+\/backend-api\/"$/m);
      const url = /export CODEXD_ISSUER=(\S+)/.exec(banner)![1]!;
      const env = { CODEXD_ISSUER: url, CODEXD_CLIENT_ID: /export CODEXD_CLIENT_ID=(\S+)/.exec(banner)![1]! };
      for (const [email, name] of [['work@example.com', 'work'], ['me@example.com', 'me']] as const) {
        const login = startCli(b, ['login', '--device-auth', '--name', name], { env });
        const code = await waitFor(() => /^ {3}([A-Z0-9]{4}-[A-Z0-9]{4,5})$/m.exec(login.stdout())?.[1], 'the one-time code');
        const page = await fetch(`${url}/codex/device`);
        assert.match(await page.text(), /<select name="email"><option>me@example\.com<\/option><option>work@example\.com<\/option><\/select>/);
        const approved = await fetch(`${url}/codex/device`, { method: 'POST', body: new URLSearchParams({ user_code: code, email }) });
        assert.match(await approved.text(), new RegExp(`Codex can now use <strong>${email.replace('.', '\\.')}</strong>`));
        assert.equal(await login.exited, 0, login.stderr());
        assert.match(login.stdout(), new RegExp(`^Logged in as ${email.replace('.', '\\.')} \\(pro\\)\\nAccount ${name}, now the active one`, 'm'));
      }
      const accounts = await cli(b, ['accounts', '--json'], { env });
      assert.deepEqual((JSON.parse(accounts.stdout) as Array<{ name: string; email: string }>).map((a) => [a.name, a.email]).sort(), [['me', 'me@example.com'], ['work', 'work@example.com']]);
    } finally {
      await cli(b, ['daemon', 'stop']);
      issuer.kill();
      b.cleanup();
    }
  });
});
