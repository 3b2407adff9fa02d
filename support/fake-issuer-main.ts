// Runs the fake OAuth issuer on its own, to try codexd by hand:
//   node dist/support/fake-issuer-main.js [--port N] [--email EMAIL]... [--backend]
// Device-code logins wait until someone approves them at /codex/device. With --email given more
// than once, the consent and device pages offer each as an identity to sign in as (each its own
// ChatGPT account), to try several accounts. --backend also runs the loopback ChatGPT backend
// (support/fake-backend.ts) that Codex and codexd's usage reach through chatgpt_base_url.

import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { startFakeBackend, type FakeBackend } from './fake-backend.js';
import { startFakeIssuer, type FakeAccount, type RecordedRequest } from './fake-issuer.js';

const USAGE = 'usage: node dist/support/fake-issuer-main.js [--port N] [--email EMAIL]... [--backend]';

function parseOptions(): { port: number; emails: string[]; backend: boolean } {
  try {
    const { values } = parseArgs({ options: { port: { type: 'string' }, email: { type: 'string', multiple: true }, backend: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const port = Number(values.port ?? '0');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${values.port}`);
    const emails = values.email ?? [];
    const bad = emails.find((email) => !/^[^\s@<>"]+@[^\s@<>"]+$/.test(email));
    if (bad !== undefined) throw new Error(`invalid email: ${bad}`);
    return { port, emails, backend: values.backend ?? false };
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  }
}

/** An identity of its own for `email`: account and user ids derived from it. */
function identity(email: string): FakeAccount {
  const id = createHash('sha256').update(email).digest('hex').slice(0, 12);
  return { email, planType: 'pro', accountId: `acct_${id}`, userId: `user_${id}` };
}

/** Method, path and grant type only: query strings and bodies carry codes and tokens. */
function logRequest(request: RecordedRequest): void {
  const grantType = request.body.grant_type;
  const grant = typeof grantType === 'string' ? ` (${grantType})` : '';
  process.stderr.write(`${new Date().toISOString()} ${request.method} ${request.path}${grant}\n`);
}

const { port, emails, backend: withBackend } = parseOptions();
const [first, ...others] = emails.map(identity);
const issuer = await startFakeIssuer({ port, onRequest: logRequest, ...(first ? { account: first } : {}) });
issuer.otherAccounts = others;
issuer.devicePendingPolls = Infinity;
const backend: FakeBackend | null = withBackend ? await startFakeBackend() : null;
const backendLines = backend ? `\nPoint Codex (and codexd's usage) at the fake ChatGPT backend, in $CODEX_HOME/config.toml:\n  chatgpt_base_url = "${backend.url}/backend-api/"` : '';

console.log(`fake issuer listening on ${issuer.url}
Point codexd at it:
  export CODEXD_ISSUER=${issuer.url}
  export CODEXD_CLIENT_ID=${issuer.clientId}
Point Codex CLI's refresh (and revoke) at it:
  export CODEX_REFRESH_TOKEN_URL_OVERRIDE=${issuer.url}/oauth/token
Signs in as ${issuer.otherAccounts.length === 0 ? issuer.account.email : `${[issuer.account, ...issuer.otherAccounts].map((account) => account.email).join(' or ')} (the sign-in pages ask which)`}; approve device codes at ${issuer.url}/codex/device${backendLines}
Ctrl-C stops it.`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void Promise.all([issuer.close(), backend?.close()]).then(() => process.exit(0));
  });
}
