// GET {chatgpt_base_url}/wham/usage, as Codex's app-server asks it (docs/usage.md): the base URL
// from config.toml, normalised as Codex does, the bearer token and `chatgpt-account-id`, one
// timeout. Every failure is a UsageUnavailable that says what happened in one line.
import type { RateLimitsResponse } from '../../shared/protocol.js';
import { UsageUnavailable } from '../errors.js';
import type { HttpClient } from '../runtime/http.js';
import { BackendShapeError, toRateLimits } from './snapshot.js';

export interface UsageCredential {
  accessToken: string;
  accountId: string | null;
}

/** Codex's rule: chatgpt.com without /backend-api gets it added; a base with /backend-api has WHAM paths, any other Codex API paths. */
export function usageUrl(baseUrl: string): string {
  let base = baseUrl.replace(/\/+$/, '');
  if ((base.startsWith('https://chatgpt.com') || base.startsWith('https://chat.openai.com')) && !base.includes('/backend-api')) base += '/backend-api';
  return base.includes('/backend-api') ? `${base}/wham/usage` : `${base}/api/codex/usage`;
}

export interface BackendOptions {
  /** Read at every request: config.toml may change. */
  baseUrl(): string;
  timeoutMs: number;
  version: string;
}

export class UsageBackend {
  constructor(
    private readonly http: HttpClient,
    private readonly options: BackendOptions,
  ) {}

  async fetch({ accessToken, accountId }: UsageCredential): Promise<RateLimitsResponse> {
    const url = usageUrl(this.options.baseUrl());
    const host = new URL(url).host;
    const headers: Record<string, string> = { authorization: `Bearer ${accessToken}`, accept: 'application/json', 'user-agent': `codexd/${this.options.version}` };
    if (accountId) headers['chatgpt-account-id'] = accountId;
    const reply = await this.http.request(url, { method: 'GET', headers, timeoutMs: this.options.timeoutMs });
    if ('failure' in reply) throw new UsageUnavailable(`the request to the ChatGPT backend failed: ${reply.failure}`);
    if (reply.status === 401 || reply.status === 403) {
      throw new UsageUnavailable(`the ChatGPT backend at ${host} refused the access token (HTTP ${reply.status}); \`codex-auth token --force-refresh --account NAME\` gets a new one, and \`codex-auth login\` signs in again`);
    }
    if (reply.status < 200 || reply.status >= 300) throw new UsageUnavailable(`the ChatGPT backend at ${host} answered HTTP ${reply.status}; try again later`);
    if (reply.body === undefined) throw new UsageUnavailable(`the ChatGPT backend at ${host} answered with something that is not JSON; try again later`);
    try {
      return toRateLimits(reply.body);
    } catch (error) {
      if (!(error instanceof BackendShapeError)) throw error;
      throw new UsageUnavailable(`the ChatGPT backend's usage answer has changed shape (${error.message}); codexd (and Codex) cannot read it: look for a newer codexd`);
    }
  }
}
