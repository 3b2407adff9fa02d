// codexd's HTTP client, for every request it makes (the issuer, the ChatGPT backend): proxies
// (HTTPS_PROXY/HTTP_PROXY/NO_PROXY through undici's EnvHttpProxyAgent), CODEX_CA_CERTIFICATE
// (else SSL_CERT_FILE) as extra trust, a timeout per request, replies capped at 1 MiB, and a
// network failure told in words a person can act on. undici (about 8 MiB resident) and node:tls
// are loaded at the first request, not while the daemon idles.
import { readFileSync } from 'node:fs';
import type { Dispatcher } from 'undici';

type Undici = typeof import('undici');

/** The largest reply read (token and usage replies are a few KiB); the rest is never read. */
const MAX_REPLY_BYTES = 1024 * 1024;

export interface Reply {
  status: number;
  /** The body parsed as JSON; undefined when it is not JSON (callers decide whether that is an error). */
  body: unknown;
  text: string;
  /** The Date header (doctor compares clocks with it), when there was one. */
  date?: string | null;
}

/** Why there is no reply: a network failure, a timeout, or a reply over 1 MiB. */
export interface Failure {
  failure: string;
  /** The failure came after the status line. */
  whileReading: boolean;
  status: number | null;
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

export class HttpClient {
  private http: Promise<{ fetch: Undici['fetch']; dispatcher: Dispatcher }> | null = null;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** Never throws: a request that got no usable reply resolves with a Failure. */
  async request(url: string, { method, headers, body, timeoutMs }: HttpRequest): Promise<Reply | Failure> {
    const target = new URL(url);
    let response;
    try {
      const { fetch, dispatcher } = await this.client();
      response = await fetch(url, { method, headers, body, dispatcher, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    } catch (error) {
      return { failure: networkReason(error, timeoutMs, target, this.env), whileReading: false, status: null };
    }
    let text: string | null;
    try {
      text = await readCapped(response.body);
    } catch (error) {
      return { failure: networkReason(error, timeoutMs, target, this.env), whileReading: true, status: response.status };
    }
    if (text === null) return { failure: 'the reply is larger than 1 MiB', whileReading: false, status: response.status };
    let parsed: unknown = undefined;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Left undefined.
    }
    return { status: response.status, body: parsed, text, date: response.headers.get('date') };
  }

  private client(): Promise<{ fetch: Undici['fetch']; dispatcher: Dispatcher }> {
    this.http ??= Promise.all([import('undici'), import('node:tls')])
      .then(([undici, { rootCertificates }]) => ({ fetch: undici.fetch, dispatcher: createDispatcher(undici, rootCertificates, this.env) }))
      .catch((error: unknown) => {
        this.http = null; // a CA file fixed later is picked up at the next request
        throw error;
      });
    return this.http;
  }
}

/** The body as text, or null (and the rest left unread) once it exceeds MAX_REPLY_BYTES. */
async function readCapped(body: AsyncIterable<Uint8Array> | null): Promise<string | null> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body ?? []) {
    size += chunk.byteLength;
    if (size > MAX_REPLY_BYTES) return null; // leaving the loop cancels the stream
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

interface NetworkCause {
  name?: string;
  message?: string;
  code?: unknown;
  cause?: unknown;
  hostname?: string;
  address?: string;
  port?: number;
}

/**
 * What went wrong, in words a person can act on, with the system's code. undici reports
 * everything as "fetch failed" and keeps the real reason in a chain of causes.
 */
function networkReason(error: unknown, timeoutMs: number, target: URL, env: NodeJS.ProcessEnv): string {
  const chain: NetworkCause[] = [];
  for (let e = error as NetworkCause | undefined; e && typeof e === 'object' && chain.length < 5; e = e.cause as NetworkCause | undefined) chain.push(e);
  if (chain[0]?.name === 'TimeoutError' || chain[0]?.name === 'AbortError') return `no answer from ${target.host} within ${Math.round(timeoutMs / 1000)} s`;
  const tunnel = chain.map((e) => /^Proxy response \((\d+)\)/.exec(e.message ?? '')).find(Boolean);
  if (tunnel) return `the proxy refused the connection to ${target.host} with HTTP ${tunnel[1]}; check HTTPS_PROXY/HTTP_PROXY and the proxy's credentials`;
  const cause = chain.find((e) => typeof e.code === 'string' && e.code !== '');
  if (!cause) return chain.at(-1)?.message || String(error);
  const code = cause.code as string;
  const targetPort = Number(target.port || (target.protocol === 'https:' ? 443 : 80));
  const proxySet = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((name) => env[name]);
  // The failing peer is not the server asked: then it can only be the proxy.
  const viaProxy = proxySet && ((cause.hostname !== undefined && cause.hostname !== target.hostname) || (cause.port !== undefined && cause.port !== targetPort));
  const peer = cause.hostname ?? (cause.address ? `${cause.address}:${cause.port}` : target.host);
  const where = viaProxy ? `the proxy ${peer}` : peer;
  if (code === 'ECONNREFUSED') return `connection refused by ${where} (ECONNREFUSED)`;
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `cannot resolve ${viaProxy ? 'the proxy host' : 'host'} ${cause.hostname ?? target.hostname} (${code}); check the network and the address`;
  if (code === 'ETIMEDOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return `connecting to ${where} timed out (${code})`;
  if (code === 'ECONNRESET' || code === 'UND_ERR_SOCKET') return `the connection to ${where} was closed (${code})`;
  if (/CERT|SSL|TLS/.test(code)) {
    return `TLS error with ${target.host}: ${cause.message} (${code}); if a proxy or firewall inspects HTTPS, set CODEX_CA_CERTIFICATE to its CA certificate`;
  }
  return `${code}${cause.message ? ` (${cause.message})` : ''}`;
}

/** Honours HTTPS_PROXY/HTTP_PROXY/NO_PROXY, and CODEX_CA_CERTIFICATE (else SSL_CERT_FILE) as extra trust. */
function createDispatcher(undici: Undici, rootCertificates: readonly string[], env: NodeJS.ProcessEnv): Dispatcher {
  const caFile = env['CODEX_CA_CERTIFICATE'] || env['SSL_CERT_FILE'];
  let ca: string | undefined;
  try {
    ca = caFile ? readFileSync(caFile, 'utf8') : undefined;
  } catch (error) {
    throw new Error(`cannot read the CA certificate ${caFile}: ${(error as Error).message}`);
  }
  // Added to Node's roots rather than replacing them, so a corporate CA does not break the rest.
  const tls = ca ? { ca: [...rootCertificates, ca] } : {};
  return new undici.EnvHttpProxyAgent({ connect: keepAliveOnceConnected(undici, tls), requestTls: tls, proxyTls: tls });
}

/** undici's default: TCP keep-alive probes after 60 s idle. */
const KEEP_ALIVE_INITIAL_DELAY_MS = 60_000;

/**
 * undici's connector, with TCP keep-alive switched on once the connection is up instead of while
 * it is still pending: Wine refuses setsockopt(SO_KEEPALIVE) on a socket that is not connected
 * yet ("connect UNKNOWN"), and Windows documents it for connected sockets. The effect is the same
 * on every platform (docs/windows.md).
 */
function keepAliveOnceConnected(undici: Undici, tls: object): import('undici').buildConnector.connector {
  const connector = undici.buildConnector({ ...tls, keepAlive: false });
  return (options, callback) =>
    connector(options, (error, socket) => {
      if (socket) socket.setKeepAlive(true, KEEP_ALIVE_INITIAL_DELAY_MS);
      (callback as (error: Error | null, socket: import('node:net').Socket | null) => void)(error, socket);
    });
}
