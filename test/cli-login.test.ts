// `codex-auth login` when things go wrong around it: a killed client, a login left pending,
// an issuer that is slow or unreachable, busy callback ports. Driven through the real binary.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, readLog, startCli, waitFor } from './helpers.js';
import { browserStart, deadPort, finishWorlds, pendingLoginId, portClosed, world } from './login-support.js';
import { cliOnPty } from './pty.js';

after(finishWorlds);

describe('a login left behind', () => {
  it('a killed `codex-auth login` cancels its login in the daemon and frees the callback port', async () => {
    const w = await world('killed login');
    const run = startCli(w.box, ['login', '--no-browser'], { env: { CODEXD_NO_AUTOSTART: '1' } });
    const loginId = await pendingLoginId(w);
    const authUrl = await waitFor(() => /^http\S+\/oauth\/authorize\?\S+$/m.exec(run.stdout())?.[0], 'the authorize URL to be printed', 20_000);
    w.shown.push(authUrl);
    const port = browserStart({ type: 'chatgpt', loginId, authUrl }).port;

    run.child.kill('SIGKILL');
    assert.equal(await run.exited, null, 'killed');
    const done = await w.completed.next((e) => e.loginId === loginId, 20_000);
    assert.deepEqual(done, { loginId, success: false, error: 'Login was cancelled because the client that started it disconnected' });
    assert.ok(await waitFor(() => portClosed(port), 'the callback port to be freed', 10_000));

    const status = await cli(w.box, ['status']);
    assert.equal(status.code, 1, 'not logged in');
    assert.doesNotMatch(status.stdout, /pending login/);
    assert.match(readLog(w.box), /the client that started the login disconnected; cancelling it/);
  });

  it('a login started with keepAfterDisconnect outlives its client; `codex-auth login --cancel` ends it, and says when nothing is pending', async () => {
    const w = await world('kept login');
    const starter = await w.client();
    const login = browserStart(await starter.loginStart({ type: 'chatgpt', keepAfterDisconnect: true }));
    w.shown.push(login.authUrl);
    await starter.close();
    await waitFor(async () => (await w.watcher.daemonStatus()).connections === 1, 'the daemon to see the starter disconnect');
    assert.deepEqual((await w.watcher.read()).login, { loginId: login.loginId, type: 'chatgpt' }, 'still pending');

    const cancelled = await cli(w.box, ['login', '--cancel']);
    assert.equal(cancelled.code, 0, cancelled.stderr);
    assert.equal(cancelled.stdout, 'Cancelled the pending browser login.\n');
    const done = await w.completed.next((e) => e.loginId === login.loginId, 20_000);
    assert.deepEqual(done, { loginId: login.loginId, success: false, error: 'Login was cancelled' });
    assert.ok(await waitFor(() => portClosed(login.port), 'the callback port to be freed', 10_000));

    const again = await cli(w.box, ['login', '--cancel']);
    assert.equal(again.code, 0);
    assert.equal(again.stdout, 'No login is pending.\n');
    const misuse = await cli(w.box, ['login', '--cancel', '--device-auth']);
    assert.equal(misuse.code, 2);
    assert.equal(misuse.stderr, 'codex-auth: --cancel takes no other login option\n');
  });
});

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

const servers: Server[] = [];
after(() => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
});

describe('an issuer that is slow or cannot be reached', () => {
  it('one that never answers: the spinner shows from the first request, then the failure names the timeout', async () => {
    const w = await world('hanging issuer', { env: { CODEXD_HTTP_TIMEOUT_S: '2' } });
    w.issuer.script('/api/accounts/deviceauth/usercode', { hang: true });
    const run = cliOnPty(w.box, ['login', '--device-auth'], { CODEXD_NO_AUTOSTART: '1', TERM: 'xterm' });
    const code = await run.exitStatus(60_000);
    const output = run.output();
    assert.equal(code, 1, output);
    const spinning = output.indexOf(`Asking ${w.issuer.url} for a one-time code`);
    const failed = output.indexOf(`codex-auth: Login failed: device code request failed: no answer from ${new URL(w.issuer.url).host} within 2 s`);
    assert.ok(spinning >= 0 && failed > spinning, `the spinner came first, then the reason: ${JSON.stringify(output)}`);
    assert.equal(w.issuer.count('/api/accounts/deviceauth/usercode'), 1, 'the request reached the issuer and was never answered');
  });

  it('to a pipe: says at once, in one line, that it is asking the issuer for a code, while the issuer does not answer', async () => {
    const w = await world('hanging issuer, piped');
    w.issuer.script('/api/accounts/deviceauth/usercode', { hang: true });
    const run = startCli(w.box, ['login', '--device-auth'], { env: { CODEXD_NO_AUTOSTART: '1' } });
    await waitFor(() => w.issuer.count('/api/accounts/deviceauth/usercode') === 1 && run.stdout().includes('\n'), 'the request at the issuer, and a line on stdout');
    assert.equal(run.stdout(), `Asking ${w.issuer.url} for a one-time code...\n`);
    assert.equal(run.stderr(), '');
    assert.equal(run.child.exitCode, null, 'still waiting for the issuer');
    run.child.kill('SIGINT');
    await run.exited;
  });

  const causes: Array<{ name: string; setup: () => Promise<{ issuerUrl?: string; env?: Record<string, string> }>; reason: (issuerHost: string) => RegExp }> = [
    {
      name: 'connection refused',
      setup: async () => ({ issuerUrl: `http://127.0.0.1:${await deadPort()}` }),
      reason: (host) => new RegExp(`^connection refused by ${host} \\(ECONNREFUSED\\)$`),
    },
    {
      name: 'an unknown host',
      setup: async () => ({ issuerUrl: 'http://codexd-test.invalid' }),
      reason: () => /^cannot resolve host codexd-test\.invalid \((ENOTFOUND|EAI_AGAIN)\); check the network and the address$/,
    },
    {
      name: 'a proxy that refuses connections',
      setup: async () => ({ env: { HTTP_PROXY: `http://127.0.0.1:${await deadPort()}`, NO_PROXY: '' } }),
      reason: () => /^connection refused by the proxy 127\.0\.0\.1:\d+ \(ECONNREFUSED\)$/,
    },
    {
      name: 'a proxy that wants credentials',
      setup: async () => {
        const proxy = createServer((_req, res) => res.writeHead(407).end());
        proxy.on('connect', (_req, socket) => socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n'));
        servers.push(proxy);
        return { env: { HTTP_PROXY: `http://127.0.0.1:${await listen(proxy)}`, NO_PROXY: '' } };
      },
      reason: (host) => new RegExp(`^the proxy refused the connection to ${host} with HTTP 407; check HTTPS_PROXY/HTTP_PROXY and the proxy's credentials$`),
    },
    {
      name: 'a certificate nobody trusts',
      setup: async () => {
        const dir = mkdtempSync('/tmp/cxd-tls-');
        const key = join(dir, 'key.pem');
        const cert = join(dir, 'cert.pem');
        execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
        const tls = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (_req, res) => res.writeHead(500).end());
        servers.push(tls as unknown as Server);
        const port = await listen(tls as unknown as Server);
        rmSync(dir, { recursive: true, force: true });
        return { issuerUrl: `https://127.0.0.1:${port}` };
      },
      reason: (host) => new RegExp(`^TLS error with ${host}: self[- ]signed certificate \\(DEPTH_ZERO_SELF_SIGNED_CERT\\); if a proxy or firewall inspects HTTPS, set CODEX_CA_CERTIFICATE to its CA certificate$`),
    },
  ];
  for (const c of causes) {
    it(`${c.name}: login fails with exit 1 and names the cause, on the terminal and in the log`, async () => {
      const { issuerUrl, env } = await c.setup();
      const w = await world(c.name, { ...(issuerUrl ? { issuerUrl } : {}), env: env ?? {} });
      const run = await cli(w.box, ['login', '--device-auth'], { env: { CODEXD_NO_AUTOSTART: '1' } });
      assert.equal(run.code, 1, run.stderr);
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, `one line: ${run.stderr}`);
      const prefix = 'codex-auth: Login failed: device code request failed: ';
      assert.ok(lines[0]!.startsWith(prefix), lines[0]);
      assert.match(lines[0]!.slice(prefix.length), c.reason(new URL(issuerUrl ?? w.issuer.url).host));
      assert.ok(readLog(w.box).includes(`the login could not start: ${lines[0]!.slice('codex-auth: Login failed: '.length)}`), 'the same words are logged');
    });
  }
});
