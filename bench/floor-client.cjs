// The floor for `codex-auth token`: a bare CommonJS client that connects, sends one framed
// account/token request, prints the credential and exits. No argument parsing, no settings, no
// checks, no error handling, no library. `npm run bench` times codex-auth against it.
'use strict';
const { connect } = require('node:net');

const socket = connect(process.env.CODEXD_SOCKET);
const body = JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'account/token', params: {} });
socket.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
let received = Buffer.alloc(0);
socket.on('data', (chunk) => {
  received = Buffer.concat([received, chunk]);
  const end = received.indexOf('\r\n\r\n');
  if (end < 0) return;
  const length = Number(/content-length: *(\d+)/i.exec(received.subarray(0, end).toString())[1]);
  if (received.length < end + 4 + length) return;
  const { result } = JSON.parse(received.subarray(end + 4, end + 4 + length).toString());
  process.stdout.write(`${result.accessToken ?? result.apiKey}\n`);
  process.exit(0);
});
