// A loopback stand-in for the ChatGPT backend (chatgpt.com/backend-api) and the OpenAI API
// (api.openai.com/v1), for the tests and the bench. Every request is recorded. GET
// /backend-api/wham/usage answers from a script per account (the `chatgpt-account-id` header) and
// per call, in the shape Codex decodes (docs/usage.md); everything else answers `status` (503 by
// default), so `codex exec` fails to reach a model without any traffic leaving the machine, and
// without a 401 that would make Codex run its own 401 recovery (a refresh) unless a test asks.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export interface BackendRequest {
  method: string;
  url: string;
  authorization: string | undefined;
  accountId: string | undefined;
  userAgent: string | undefined;
  headers: Record<string, string | undefined>;
  /** Date.now() when it arrived. */
  at: number;
}

/** One answer to one /wham/usage request. */
export interface UsageReply {
  /** Default 200. */
  status?: number;
  /** An object is sent as JSON, a string as it is. */
  body: object | string;
  delayMs?: number;
  /** Never answer; the socket stays open until close(). */
  hang?: boolean;
}

export interface FakeBackend {
  /** http://127.0.0.1:PORT; Codex's chatgpt_base_url is `${url}/backend-api/`. */
  url: string;
  requests: BackendRequest[];
  /** What every request but /wham/usage is answered with: 503 (default), or 401 to make Codex run its 401 recovery. */
  status: 503 | 401;
  /** The bearer tokens sent, without the `Bearer ` prefix. */
  bearerTokens(): string[];
  /**
   * The next /wham/usage requests for `accountId` get these replies, one each, in order; the last
   * one keeps answering after that. An account never scripted gets `usagePayload({})`.
   */
  scriptUsage(accountId: string, ...replies: UsageReply[]): void;
  /**
   * Bearer tokens answered 401 on every path, as the backend answers a revoked or expired token:
   * Codex then runs its 401 recovery (with host-managed tokens, `account/chatgptAuthTokens/refresh`).
   */
  rejected: Set<string>;
  /** The /wham/accounts/check requests so far (Codex's workspace routing discovery, docs/editors.md). */
  accountChecks(): BackendRequest[];
  /** The /wham/usage requests so far, for `accountId` when given. */
  usageRequests(accountId?: string): BackendRequest[];
  close(): Promise<void>;
}

export interface WindowSpec {
  usedPercent: number;
  /** Default 18000 (5 hours) for the primary window, 604800 (a week) for the secondary one. */
  windowSeconds?: number;
  /** Default: an hour for the primary window, three days for the secondary one. */
  resetAfterSeconds?: number;
}

export interface UsageSpec {
  plan?: string;
  primary?: WindowSpec | null;
  secondary?: WindowSpec | null;
  credits?: { has_credits: boolean; unlimited: boolean; balance: string | null } | null;
  /** Sent as `{type}`, as the backend does. */
  reachedType?: string | null;
  accountId?: string;
  /** The clock the reset times count from, in ms (default Date.now()). */
  now?: number;
}

function backendWindow(spec: WindowSpec | null | undefined, windowSeconds: number, resetAfterSeconds: number, now: number): object | null {
  if (!spec) return null;
  const after = spec.resetAfterSeconds ?? resetAfterSeconds;
  return {
    used_percent: spec.usedPercent,
    limit_window_seconds: spec.windowSeconds ?? windowSeconds,
    reset_after_seconds: after,
    reset_at: Math.floor(now / 1000) + after,
  };
}

/** A /wham/usage body as the backend sends it. */
export function usagePayload(spec: UsageSpec): object {
  const now = spec.now ?? Date.now();
  const primary = spec.primary === undefined ? { usedPercent: 0 } : spec.primary;
  const secondary = spec.secondary === undefined ? { usedPercent: 0 } : spec.secondary;
  const reached = (primary?.usedPercent ?? 0) >= 100 || (secondary?.usedPercent ?? 0) >= 100;
  return {
    plan_type: spec.plan ?? 'plus',
    ...(spec.accountId ? { account_id: spec.accountId } : {}),
    rate_limit: {
      allowed: !reached,
      limit_reached: reached,
      primary_window: backendWindow(primary, 18_000, 3600, now),
      secondary_window: backendWindow(secondary, 604_800, 3 * 86_400, now),
    },
    credits: spec.credits === undefined ? { has_credits: false, unlimited: false, balance: '0' } : spec.credits,
    additional_rate_limits: [],
    rate_limit_reached_type: spec.reachedType ? { type: spec.reachedType } : null,
  };
}

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}

const ACCOUNTS_CHECK = '/backend-api/wham/accounts/check';

/**
 * The /wham/accounts/check body Codex 0.169–0.171 decodes: the caller's workspace, with an HTTPS
 * backend origin (Codex insists on one; nothing here sends a model turn there).
 */
function accountsCheck(accountId: string): object {
  return {
    accounts: [{ id: accountId, structure: 'personal', plan_type: 'pro', workspace_backend_origin: 'https://127.0.0.1:9', account_routing_override: 'NO_CONSTRAINT' }],
    account_ordering: [accountId],
  };
}

export async function startFakeBackend(): Promise<FakeBackend> {
  const requests: BackendRequest[] = [];
  const scripts = new Map<string, UsageReply[]>();
  const hanging = new Set<ServerResponse>();

  const answerUsage = async (request: BackendRequest, res: ServerResponse): Promise<void> => {
    const script = scripts.get(request.accountId ?? '');
    const reply: UsageReply = script && script.length > 0 ? (script.length > 1 ? script.shift()! : script[0]!) : { body: usagePayload({}) };
    if (reply.delayMs) await sleep(reply.delayMs);
    if (reply.hang) {
      hanging.add(res);
      return;
    }
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' }).end(text);
  };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      const headers = Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, header(value)]));
      const request: BackendRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        authorization: req.headers.authorization,
        accountId: header(req.headers['chatgpt-account-id']),
        userAgent: req.headers['user-agent'],
        headers,
        at: Date.now(),
      };
      requests.push(request);
      const path = new URL(request.url, 'http://x').pathname;
      if (request.authorization?.startsWith('Bearer ') && backend.rejected.has(request.authorization.slice(7))) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":{"message":"fake backend: token rejected","code":"token_expired"}}');
        return;
      }
      if (request.method === 'GET' && path === ACCOUNTS_CHECK) {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(accountsCheck(request.accountId ?? '')));
        return;
      }
      if (request.method === 'GET' && path === '/backend-api/wham/usage') {
        void answerUsage(request, res);
        return;
      }
      res.writeHead(backend.status, { 'content-type': 'application/json' }).end('{"error":{"message":"fake backend: no model here"}}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const backend: FakeBackend = {
    url,
    requests,
    status: 503,
    bearerTokens: () => [...new Set(requests.map((r) => r.authorization).filter((a): a is string => a?.startsWith('Bearer ') === true).map((a) => a.slice(7)))],
    rejected: new Set(),
    accountChecks: () => requests.filter((r) => r.url.startsWith(ACCOUNTS_CHECK)),
    scriptUsage: (accountId, ...replies) => void scripts.set(accountId, [...replies]),
    usageRequests: (accountId) => requests.filter((r) => r.url.startsWith('/backend-api/wham/usage') && (accountId === undefined || r.accountId === accountId)),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return backend;
}
