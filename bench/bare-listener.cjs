// The reference for the daemon's memory and start-up: a bare Node process that listens on a
// Unix socket and does nothing else. `npm run bench` starts it with the daemon's Node flags.
//
//   node bench/bare-listener.cjs SOCKET
'use strict';
const { createServer } = require('node:net');

const server = createServer((socket) => socket.on('error', () => undefined)).listen(process.argv[2]);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
