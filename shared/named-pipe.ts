// The Windows named pipe transport (\\.\pipe\codexd-<user>). Who serves the pipe is not checked
// yet: connect() is where the pipe server's process and owner are to be checked.
import type { Transport } from './transports.js';
import { netConnect } from './unix-socket.js';

export const namedPipeTransport: Transport = {
  check: () => true,
  prepare: () => undefined,
  connect: netConnect,
};
