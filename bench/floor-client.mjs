// The floor for `codex-auth token` as an ES module: connect, send one framed account/token
// request, print the credential, exit. No argument parsing, no settings, no error handling, no
// library. A CLI shipped as an ES module (as codex-auth is: a "type": "module" package, and
// the tests run dist/client/cli/main.js) starts at least this slowly. floor-client.cjs is the
// same as CommonJS, which skips the ES module loader. Used by `npm run bench` as reference rows.
import { connect } from 'node:net';

const socket = connect(process.env.CODEXD_SOCKET);
const body = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'account/token', params: {} });
socket.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
let received = '';
socket.on('data', (chunk) => {
  received += chunk.toString('utf8');
  const end = received.indexOf('\r\n\r\n');
  if (end < 0) return;
  const { result } = JSON.parse(received.slice(end + 4));
  process.stdout.write(`${result.accessToken ?? result.apiKey}\n`);
  process.exit(0);
});
