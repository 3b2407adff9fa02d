// The baseline: a minimal LSP-framed JSON-RPC echo server on a Unix socket, built from
// vscode-jsonrpc's stock SocketMessageReader/SocketMessageWriter and nothing else. Every request,
// whatever its method, is answered with its own params. It is as fast as this stack goes.
//
//   node dist/bench/echo-server.js SOCKET
import { unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { createMessageConnection, SocketMessageReader, SocketMessageWriter } from 'vscode-jsonrpc/node';

const socketPath = process.argv[2];
if (!socketPath) {
  process.stderr.write('usage: node dist/bench/echo-server.js SOCKET\n');
  process.exit(2);
}
try {
  unlinkSync(socketPath);
} catch {
  // Nothing left from an earlier run.
}

const server = createServer((socket) => {
  const connection = createMessageConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket));
  connection.onRequest((_method, params) => params ?? null);
  connection.onClose(() => connection.dispose());
  connection.listen();
});
server.listen(socketPath);
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    server.close();
    process.exit(0);
  });
}
