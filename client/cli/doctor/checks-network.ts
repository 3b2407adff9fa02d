// The network as codexd sees it: the issuer and the ChatGPT backend reached through the proxy and
// CA the daemon itself uses (its own environment when it runs, else the one autostart would hand
// it), each failure named as `status` names it, and the clock against the issuer's Date header.
import { HttpClient } from '../../../daemon/runtime/http.js';
import { DEFAULT_ISSUER } from '../../../shared/settings.js';
import { answered, codexConfig, environOf, type DoctorContext } from './context.js';
import { fail, ok, warning, type Check, type Details, type Finding } from './report.js';

const TIMEOUT_MS = 5_000;
const SKEW_WARN_S = 60;
const SKEW_FAIL_S = 300;
const PROXY_VARIABLES = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy'];

interface Reach {
  url: URL;
  /** The HTTP status, or the reason nothing answered. */
  outcome: { status: number; date: string | null; rttMs: number; receivedAt: number } | { reason: string };
}

/** The environment the daemon makes its requests with, and where it comes from. */
function networkEnv(context: DoctorContext): { env: NodeJS.ProcessEnv; source: string } {
  const pid = answered(context)?.daemon?.pid;
  const daemonEnv = pid === undefined ? null : environOf(pid);
  return daemonEnv ? { env: daemonEnv, source: `codexd's own (pid ${pid})` } : { env: context.env, source: 'this shell (what autostart would hand codexd)' };
}

function routeDetails(env: NodeJS.ProcessEnv, source: string): Details {
  const details: Details = { environment: source };
  const proxies = PROXY_VARIABLES.filter((name) => env[name]).map((name) => `${name}=${env[name]}`);
  details['proxy'] = proxies.length > 0 ? proxies : 'none (direct)';
  const ca = env['CODEX_CA_CERTIFICATE'] || env['SSL_CERT_FILE'];
  details['extra CA'] = ca ? `${ca} (${env['CODEX_CA_CERTIFICATE'] ? 'CODEX_CA_CERTIFICATE' : 'SSL_CERT_FILE'})` : 'none';
  return details;
}

async function reach(url: URL, env: NodeJS.ProcessEnv): Promise<Reach> {
  const started = performance.now();
  const reply = await new HttpClient(env).request(url.href, { method: 'GET', headers: {}, timeoutMs: TIMEOUT_MS });
  if ('failure' in reply) return { url, outcome: { reason: reply.failure } };
  return { url, outcome: { status: reply.status, date: reply.date ?? null, rttMs: performance.now() - started, receivedAt: Date.now() } };
}

function issuerUrl(context: DoctorContext): URL {
  const configured = context.expected.issuer ?? answered(context)?.init.issuer ?? DEFAULT_ISSUER;
  return new URL('/.well-known/openid-configuration', configured);
}

function reachability(id: string, what: string, target: (context: DoctorContext) => Promise<URL> | URL, context: DoctorContext, memo: Map<string, Promise<Reach>>): Check {
  return {
    id,
    category: 'reachability',
    network: true,
    async run(): Promise<Finding> {
      const { env, source } = networkEnv(context);
      const url = await target(context);
      const key = url.href;
      if (!memo.has(key)) memo.set(key, reach(url, env));
      const { outcome } = await memo.get(key)!;
      const details = { url: url.origin, ...routeDetails(env, source) };
      if ('reason' in outcome) return fail(`${what} cannot be reached: ${outcome.reason}`, 'check the network, HTTPS_PROXY/NO_PROXY and CODEX_CA_CERTIFICATE in the environment codexd runs with (codex-auth daemon stop; the next command starts it with this shell\'s)', details);
      return ok(`${what} answers (HTTP ${outcome.status})`, details);
    },
  };
}

function clockSkew(context: DoctorContext, memo: Map<string, Promise<Reach>>): Check {
  return {
    id: 'clock.skew',
    category: 'clock',
    network: true,
    async run(): Promise<Finding> {
      const url = issuerUrl(context);
      if (!memo.has(url.href)) memo.set(url.href, reach(url, networkEnv(context).env));
      const { outcome } = await memo.get(url.href)!;
      if ('reason' in outcome || outcome.date === null) return warning('not measured: the issuer did not answer with a Date header', 'see the network checks', { issuer: url.origin });
      // The Date header has whole seconds and was stamped about half a round trip before it arrived.
      const skewS = Math.round((outcome.receivedAt - outcome.rttMs / 2 - Date.parse(outcome.date)) / 1000);
      const details = { issuer: url.origin, 'issuer time': new Date(outcome.date).toISOString(), 'local time': new Date(outcome.receivedAt).toISOString(), skew: `${skewS} s` };
      const text = `this clock is ${Math.abs(skewS)} s ${skewS > 0 ? 'ahead of' : 'behind'} the issuer's`;
      const fix = 'sync the clock: sudo timedatectl set-ntp true (tokens look expired, or not yet valid, on a wrong clock)';
      if (Math.abs(skewS) > SKEW_FAIL_S) return fail(text, fix, details);
      if (Math.abs(skewS) > SKEW_WARN_S) return warning(text, fix, details);
      return ok(`the clock agrees with the issuer's (${skewS} s)`, details);
    },
  };
}

export function networkChecks(context: DoctorContext): Check[] {
  const memo = new Map<string, Promise<Reach>>();
  const backend = async (c: DoctorContext) => new URL((await codexConfig(c.codexHome)).baseUrl);
  return [
    reachability('network.issuer', 'the OAuth issuer', issuerUrl, context, memo),
    reachability('network.backend', 'the ChatGPT backend (chatgpt_base_url)', backend, context, memo),
    clockSkew(context, memo),
  ];
}
