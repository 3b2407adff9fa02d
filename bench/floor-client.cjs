// The floor for `codex-auth token` as CommonJS: the same as floor-client.mjs, without the ES
// module loader at start-up. Used by `npm run bench` as a reference row.
'use strict';
const { connect } = require('node:net');

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
