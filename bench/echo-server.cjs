// The baseline for `account/token` latency: a raw, hand-written JSON-RPC echo server on a Unix
// socket. It reads LSP frames (`Content-Length: N\r\n\r\n` + N bytes) with no library and no
// checks, and answers every request at once with its own params. Nothing can answer faster in
// Node, so codexd's ratio to it is what the daemon's own work costs. `npm run bench` starts it
// with the daemon's Node flags.
//
//   node bench/echo-server.cjs SOCKET
'use strict';
const { unlinkSync } = require('node:fs');
const { createServer } = require('node:net');

const socketPath = process.argv[2];
try {
  unlinkSync(socketPath);
} catch {
  // Nothing left from an earlier run.
}

const server = createServer((socket) => {
  let buffered = Buffer.alloc(0);
  socket.on('error', () => undefined);
  socket.on('data', (chunk) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    for (;;) {
      const end = buffered.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/content-length: *(\d+)/i.exec(buffered.subarray(0, end).toString('latin1'))[1]);
      if (buffered.length < end + 4 + length) return;
      const request = JSON.parse(buffered.subarray(end + 4, end + 4 + length).toString('utf8'));
      buffered = buffered.subarray(end + 4 + length);
      const body = JSON.stringify({ jsonrpc: '2.0', id: request.id, result: request.params ?? null });
      socket.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    }
  });
});
server.listen(socketPath);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
