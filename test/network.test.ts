// Requests to the issuer go through the user's proxy and trust the user's CA, as Codex's do.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startFakeIssuer, type FakeIssuer } from '../support/fake-issuer.js';
import { authPath, client, fileSandbox, startDaemon, waitFor } from './helpers.js';
import { codexAuthJson } from './refresh-support.js';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** An HTTP proxy as undici uses one: CONNECT tunnels, recorded as they open. */
function connectProxy(seen: string[]): Server {
  const proxy = createServer((_req, res) => res.writeHead(405).end());
  proxy.on('connect', (req, client, head) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(':');
    const upstream = netConnect(Number(port), host!, () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
  });
  return proxy;
}

/** Forwards every request to `target`, recording what passed through. */
function forwarder(target: string, seen: string[], make: (handler: Parameters<typeof createServer>[1]) => Server = (h) => createServer(h)): Server {
  return make((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    const url = new URL(req.url!, target);
    const upstream = request(new URL(url.pathname + url.search, target), { method: req.method, headers: { ...req.headers, host: new URL(target).host } }, (reply) => {
      res.writeHead(reply.statusCode!, reply.headers);
      reply.pipe(res);
    });
    req.pipe(upstream);
  });
}

describe('the network path to the issuer', () => {
  let issuer: FakeIssuer;
  const servers: Server[] = [];
  before(async () => {
    issuer = await startFakeIssuer();
  });
  after(async () => {
    servers.forEach((s) => s.close());
    await issuer.close();
  });

  async function refreshThrough(env: NodeJS.ProcessEnv): Promise<void> {
    const b = fileSandbox({ CODEXD_ISSUER: issuer.url, ...env });
    const daemon = await startDaemon(b);
    writeFileSync(authPath(b), codexAuthJson(issuer.mintTokens({ accessExpiresInS: 3600 }), issuer.account.accountId, new Date().toISOString()));
    const c = await client(b);
    const before = issuer.count('/oauth/token', 'refresh_token');
    await waitFor(async () => (await c.read()).account, 'the login on disk to be read');
    const token = await c.token({ forceRefresh: true });
    assert.equal(token.type, 'chatgpt');
    assert.equal(issuer.count('/oauth/token', 'refresh_token'), before + 1, 'the refresh reached the issuer');
    await c.close();
    await daemon.stop();
  }

  it('goes through HTTP_PROXY, and around it for hosts in NO_PROXY', async () => {
    const seen: string[] = [];
    const proxy = connectProxy(seen);
    servers.push(proxy);
    const port = await listen(proxy);
    await refreshThrough({ HTTP_PROXY: `http://127.0.0.1:${port}`, NO_PROXY: '' });
    assert.ok(seen.includes(`CONNECT ${new URL(issuer.url).host}`), `the refresh went through the proxy: ${seen.join(', ')}`);

    seen.length = 0;
    await refreshThrough({ HTTP_PROXY: `http://127.0.0.1:${port}`, NO_PROXY: '127.0.0.1' });
    assert.deepEqual(seen, [], 'NO_PROXY bypasses the proxy');
  });

  it('trusts the CA in CODEX_CA_CERTIFICATE for an HTTPS issuer', async () => {
    const b = fileSandbox();
    const key = join(b.dir, 'key.pem');
    const cert = join(b.dir, 'cert.pem');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert], { stdio: 'ignore' });
    const seen: string[] = [];
    const tls = forwarder(issuer.url, seen, (handler) => createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, handler) as unknown as Server);
    servers.push(tls);
    const port = await listen(tls);
    await refreshThrough({ CODEXD_ISSUER: `https://127.0.0.1:${port}`, CODEX_CA_CERTIFICATE: cert });
    assert.ok(seen.includes('POST /oauth/token'));
  });
});
