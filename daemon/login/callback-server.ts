// The browser login's callback server: holds 127.0.0.1 and ::1 on one port (Codex's port dance
// on a busy one), answers only requests for its own origin, serves /success and /cancel, and hands
// /auth/callback to the flow (browser.ts).
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../runtime/log.js';
import { scrub } from '../runtime/secrets.js';
import { LoginError } from './flow.js';
import { successPage } from './pages.js';

const FALLBACK_PORT = 1457;
/** The ports Codex registers for its callback, where an earlier login's server is asked to /cancel. */
const CODEX_PORTS = [1455, FALLBACK_PORT];
const BIND_ATTEMPTS = 10;
const BIND_RETRY_MS = 200;
/** How long a response still being written may take once the server has stopped listening. */
const CLOSE_GRACE_MS = 1_000;

export interface CallbackServer {
  port: number;
  /** The preferred port, when it was busy and another was taken. */
  busyPort: number | null;
  /** Stops listening after `afterMs` (freeing the port); responses in flight get a moment to finish. */
  close(afterMs: number): void;
}

export interface CallbackHandlers {
  callback(query: URLSearchParams, res: ServerResponse): void;
  /** A newer login asked this one to give up its port. */
  cancel(): void;
}

export async function startCallbackServer(preferredPort: number, log: Logger, handlers: CallbackHandlers): Promise<CallbackServer> {
  const server = createServer();
  // The redirect URI says `localhost`, which a browser may try on ::1 first: hold that address
  // too, so that no other local user can listen there and receive the callback.
  const server6 = createNetServer((socket) => server.emit('connection', socket));
  let closeTimer: NodeJS.Timeout | undefined;
  const close = (afterMs: number): void => {
    clearTimeout(closeTimer);
    closeTimer = setTimeout(() => {
      server.close();
      if (server6.listening) server6.close();
      server.closeIdleConnections();
      setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
    }, afterMs);
    closeTimer.unref();
  };
  let allowedHosts = new Set<string>();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    // Only our own origin: blocks DNS rebinding from web pages.
    if (!allowedHosts.has(req.headers.host ?? '')) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden: unexpected Host header');
      return;
    }
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    switch (url.pathname) {
      case '/auth/callback':
        handlers.callback(url.searchParams, res);
        return;
      case '/success':
        sendHtml(res, 200, successPage());
        return;
      case '/cancel':
        res.writeHead(200, { 'content-type': 'text/plain', connection: 'close' }).end('Login cancelled');
        handlers.cancel();
        // Also after a success, while the server lingers for /success: a new login wants the port now.
        close(0);
        return;
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
    }
  });
  const { port, busyPort } = await bindCallbackServer(server, server6, preferredPort, log);
  allowedHosts = new Set([`localhost:${port}`, `127.0.0.1:${port}`]);
  return { port, busyPort, close };
}

export function sendHtml(res: ServerResponse, status: number, html: string): void {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', connection: 'close' }).end(scrub(html));
}

/**
 * Codex's port dance: on a busy 1455 or 1457 ask the old login server to /cancel, retry, then fall back
 * 1455 → 1457. A port is busy when either loopback address is taken; port 0 takes any port free
 * on both. `busyPort` is the preferred port when it had to be given up.
 */
async function bindCallbackServer(server: Server, server6: NetServer, preferred: number, log: Logger): Promise<{ port: number; busyPort: number | null }> {
  const ports = preferred === 1455 ? [1455, FALLBACK_PORT] : [preferred];
  for (const port of ports) {
    if (port !== preferred) log.warn(`port ${preferred} is in use (another \`codex login\` may be running); falling back to port ${port}`);
    // Only Codex's own ports hold a login server that /cancel stops; another port may be anyone's.
    let cancelSent = !CODEX_PORTS.includes(port);
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
