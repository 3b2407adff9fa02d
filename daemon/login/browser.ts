// ChatGPT browser login: PKCE S256, a callback server on 127.0.0.1 and ::1 (1455, falling back to
// 1457), Codex's authorize URL and callback handling (docs/codex-auth.md §2).
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import type { Logger } from '../log.js';
import { registerSecret } from '../secrets.js';
import type { Settings } from '../settings.js';
import { LoginError, type LoginContext, type LoginFlow } from './flow.js';
import { errorPage, successPage } from './pages.js';
import { setTimeout as sleep } from 'node:timers/promises';

const SCOPE = 'openid profile email offline_access api.connectors.read api.connectors.invoke';
const FALLBACK_PORT = 1457;
const BIND_ATTEMPTS = 10;
const BIND_RETRY_MS = 200;
/** How long the server stays up after a successful login so the browser can load /success. */
const SUCCESS_PAGE_GRACE_MS = 10_000;
/** How long a response still being written may take once the server has stopped listening. */
const CLOSE_GRACE_MS = 1_000;

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function createPkce(): Pkce {
  const verifier = randomBytes(64).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(issuer: string, clientId: string, redirectUri: string, challenge: string, state: string): string {
  const params: Array<[string, string]> = [
    ['response_type', 'code'],
    ['client_id', clientId],
    ['redirect_uri', redirectUri],
    ['scope', SCOPE],
    ['code_challenge', challenge],
    ['code_challenge_method', 'S256'],
    ['id_token_add_organizations', 'true'],
    ['codex_cli_simplified_flow', 'true'],
    ['state', state],
    ['originator', process.env['CODEX_INTERNAL_ORIGINATOR_OVERRIDE'] || 'codex_cli_rs'],
  ];
  return `${issuer}/oauth/authorize?${params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
}

export async function startBrowserLogin(context: LoginContext, settings: Settings): Promise<{ flow: LoginFlow; authUrl: string; busyPort: number | null }> {
  const pkce = createPkce();
  const state = randomBytes(32).toString('base64url');
  registerSecret(pkce.verifier);
  registerSecret(state);

  const server = createServer();
  // The redirect URI says `localhost`, which a browser may try on ::1 first: hold that address
  // too, so that no other local user can listen there and receive the callback.
  const server6 = createNetServer((socket) => server.emit('connection', socket));
  const { port, busyPort } = await bindCallbackServer(server, server6, settings.loginPort, context.log);
  const redirectUri = `http://localhost:${port}/auth/callback`;
  const allowedHosts = new Set([`localhost:${port}`, `127.0.0.1:${port}`]);

  let ended = false;
  /** A callback is being exchanged and saved; a second one (a double click, a reload) must not race it. */
  let completing = false;
  let closeTimer: NodeJS.Timeout | undefined;
  /** Stops listening after `afterMs` (freeing the port); responses in flight get a moment to finish. */
  const closeServer = (afterMs: number): void => {
    clearTimeout(closeTimer);
    closeTimer = setTimeout(() => {
      server.close();
      if (server6.listening) server6.close();
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
    }, afterMs);
    closeTimer.unref();
  };
  const end = (success: boolean, error: string | null, keepServerMs = 0): void => {
    if (ended) return;
    ended = true;
    clearTimeout(timeout);
    closeServer(keepServerMs);
    context.finished({ success, error });
  };
  const timeout = setTimeout(() => end(false, 'Login timed out'), settings.loginTimeoutS * 1000);
  timeout.unref();

  const fail = (res: ServerResponse, heading: string, message: string, whatToDo: string): void => {
    sendHtml(res, 200, errorPage(heading, message, whatToDo));
    end(false, message);
  };

  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Only our own origin: blocks DNS rebinding from web pages.
    if (!allowedHosts.has(req.headers.host ?? '')) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden: unexpected Host header');
      return;
    }
    const url = new URL(req.url ?? '/', `http://localhost:${port}`);
    switch (url.pathname) {
      case '/auth/callback':
        void handleCallback(url.searchParams, res);
        return;
      case '/success':
        sendHtml(res, 200, successPage());
        return;
      case '/cancel':
        res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end('Login cancelled');
        end(false, 'Login was cancelled');
        // Also after a success, while the server lingers for /success: a new login wants the port now.
        closeServer(0);
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
    }
  });

  const handleCallback = async (query: URLSearchParams, res: ServerResponse): Promise<void> => {
    if (ended) {
      sendEnded(res);
      return;
    }
    if (query.get('state') !== state) {
      // A forged or stale callback: refuse it, and keep waiting for the real one.
      res.writeHead(400, { 'content-type': 'text/plain' }).end('State mismatch');
      return;
    }
    if (completing) {
      sendHtml(res, 200, errorPage('Sign-in is already being completed', 'This sign-in is already being completed in another tab.', 'Wait a moment, then check your terminal.'));
      return;
    }
    const error = query.get('error');
    if (error) {
      const description = query.get('error_description') ?? '';
      if (error === 'access_denied' && description.includes('missing_codex_entitlement')) {
        fail(res, 'You do not have access to Codex', 'Codex is not enabled for your workspace. Contact your workspace administrator to request access to Codex.', 'Once access is granted, run `codex-auth login` again.');
      } else {
        fail(res, 'Sign-in failed', `Sign-in failed: ${description || error}`, 'Run `codex-auth login` to try again.');
      }
      return;
    }
    const code = query.get('code');
    if (!code) {
      fail(res, 'Sign-in could not be completed', 'Missing authorization code. Sign-in could not be completed.', 'Run `codex-auth login` to try again.');
      return;
    }
    registerSecret(code);
    completing = true;
    let tokens;
    try {
      tokens = await context.issuer.exchangeCode('Token exchange', code, redirectUri, pkce.verifier);
    } catch (exchangeError) {
      if (ended) sendEnded(res);
      else fail(res, 'Sign-in could not be completed', (exchangeError as Error).message, 'Run `codex-auth login` to try again; if it keeps failing, check your network or proxy settings.');
      return;
    }
    // Best effort, as in Codex: a failed API-key exchange leaves the key null.
    const apiKey = ended ? null : await context.issuer.exchangeApiKey(tokens.id_token);
    // Cancelled, replaced or timed out while the code was being exchanged: save nothing.
    if (ended) {
      sendEnded(res);
      return;
    }
    try {
      await context.persist(tokens, { apiKey });
    } catch (persistError) {
      if (ended) sendEnded(res);
      else fail(res, 'Your login could not be saved', `Could not save the login: ${(persistError as Error).message}`, 'Check that CODEX_HOME is writable and has free space, then run `codex-auth login` again.');
      return;
    }
    if (ended) {
      sendEnded(res);
      return;
    }
    res.writeHead(302, { location: `http://localhost:${port}/success`, connection: 'close' }).end();
    end(true, null, SUCCESS_PAGE_GRACE_MS);
  };

  const flow: LoginFlow = {
    loginId: context.loginId,
    type: 'chatgpt',
    cancel: (reason) => end(false, reason),
  };
  return { flow, authUrl: authorizeUrl(context.issuer.issuer, context.issuer.clientId, redirectUri, pkce.challenge, state), busyPort };
}

function sendEnded(res: ServerResponse): void {
  sendHtml(res, 200, errorPage('This login has ended', 'This sign-in link is no longer active: the login was cancelled, replaced by a newer one, or timed out.', 'Start a new login with `codex-auth login`.'));
}

function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' }).end(html);
}

/**
 * Codex's port dance: on a busy port ask the old login server to /cancel, retry, then fall back
 * 1455 → 1457. A port is busy when either loopback address is taken; port 0 takes any port free
 * on both. `busyPort` is the preferred port when it had to be given up.
 */
async function bindCallbackServer(server: Server, server6: NetServer, preferred: number, log: Logger): Promise<{ port: number; busyPort: number | null }> {
  const ports = preferred === 1455 ? [1455, FALLBACK_PORT] : [preferred];
  for (const port of ports) {
    if (port !== preferred) log.warn(`port ${preferred} is in use (another \`codex login\` may be running); falling back to port ${port}`);
    let cancelSent = port === 0;
    for (let attempt = 0; attempt < BIND_ATTEMPTS; attempt++) {
      try {
        return { port: await listenOnLoopback(server, server6, port), busyPort: port === preferred ? null : preferred };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw new LoginError(`cannot start the login callback server: ${(error as Error).message}`);
        if (!cancelSent) {
          cancelSent = true;
          await sendCancel(port);
        }
        await sleep(BIND_RETRY_MS);
      }
    }
  }
  const busy = ports.length === 1 ? `Port ${ports[0]} is in use` : `Ports ${ports.join(' and ')} are both in use`;
  throw new LoginError(`${busy}; another \`codex login\` may be running. Use \`codex-auth login --device-auth\`, or set CODEXD_LOGIN_PORT=0 to use any free port.`);
}

/** Binds 127.0.0.1:port and, where the host has IPv6, [::1] on the same port; EADDRINUSE when either is taken. */
async function listenOnLoopback(server: Server, server6: NetServer, port: number): Promise<number> {
  const bound = await listen(server, port, '127.0.0.1');
  try {
    await listen(server6, bound, '::1');
  } catch (error) {
    const { code } = error as NodeJS.ErrnoException;
    if (code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') return bound; // no IPv6 loopback here
    await new Promise((resolve) => server.close(resolve));
    throw error;
  }
  return bound;
}

function listen(server: NetServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function sendCancel(port: number): Promise<void> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/cancel', timeout: 2000, headers: { host: `localhost:${port}` } }, (res) => {
      res.resume();
      res.on('end', resolve);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve());
    req.end();
  });
}
