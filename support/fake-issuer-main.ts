// Runs the fake OAuth issuer on its own, to try codexd by hand:
//   node dist/support/fake-issuer-main.js [--port N]
// Device-code logins wait until someone approves them at /codex/device.

import { parseArgs } from 'node:util';
import { startFakeIssuer, type RecordedRequest } from './fake-issuer.js';

const USAGE = 'usage: node dist/support/fake-issuer-main.js [--port N]';

function parsePort(): number {
  try {
    const { values } = parseArgs({ options: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help) {
      console.log(USAGE);
      process.exit(0);
    }
    const port = Number(values.port ?? '0');
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid port: ${values.port}`);
    return port;
  } catch (err) {
    console.error(`${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exit(2);
  }
}

/** Method, path and grant type only: query strings and bodies carry codes and tokens. */
function logRequest(request: RecordedRequest): void {
  const grantType = request.body.grant_type;
  const grant = typeof grantType === 'string' ? ` (${grantType})` : '';
  process.stderr.write(`${new Date().toISOString()} ${request.method} ${request.path}${grant}\n`);
}

const issuer = await startFakeIssuer({ port: parsePort(), onRequest: logRequest });
issuer.devicePendingPolls = Infinity;

console.log(`fake issuer listening on ${issuer.url}
Point codexd at it:
  export CODEXD_ISSUER=${issuer.url}
  export CODEXD_CLIENT_ID=${issuer.clientId}
Point Codex CLI's refresh (and revoke) at it:
  export CODEX_REFRESH_TOKEN_URL_OVERRIDE=${issuer.url}/oauth/token
Signs everyone in as ${issuer.account.email}; approve device codes at ${issuer.url}/codex/device
Ctrl-C stops it.`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    void issuer.close().then(() => process.exit(0));
  });
}
