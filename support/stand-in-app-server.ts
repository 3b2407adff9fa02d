// A stand-in for `codex app-server` over stdio (newline-delimited JSON-RPC), for the bridge's
// tests and its bench: it answers `initialize`, `account/login/start` and `account/logout` as
// Codex does and tells the host what it got (`test/got` notifications), and echoes every other
// line back unchanged. Test hooks: `test/exit {code}` exits with that status; `test/askRefresh`
// sends Codex's `account/chatgptAuthTokens/refresh` and reports the answer as `test/refreshAnswered`;
// `test/flood {lines, size}` writes that many `test/chunk` notifications of `size` characters as
// fast as its stdout takes them, then `test/flooded`; `test/stopReading` stops reading stdin until
// SIGUSR2. Its pid is in the reply to `initialize`.
// With STAND_IN_SILENT_LOGIN=1 it never answers `account/login/start`. It exits 0 when stdin closes, and with 42 on SIGTERM (so a test can tell it got the signal).
// Its argv (after node and the script) is reported in the reply to `initialize` as `argv`.
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const write = (message: object): void => void process.stdout.write(`${JSON.stringify(message)}\n`);
let asked = 0;
let paused: NodeJS.Timeout | undefined;

process.on('SIGTERM', () => process.exit(42));
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  let message: { id?: unknown; method?: string; params?: Record<string, unknown>; result?: unknown; error?: unknown };
  try {
    message = JSON.parse(line);
  } catch {
    process.stdout.write(`${line}\n`);
    return;
  }
  switch (message.method) {
    case 'initialize':
      write({ id: message.id, result: { userAgent: 'stand-in', argv: process.argv.slice(2), params: message.params, pid: process.pid } });
      return;
    case 'test/flood':
      void flood(Number(message.params?.['lines']), Number(message.params?.['size']));
      return;
    case 'test/stopReading':
      lines.pause();
      // Nothing else would keep the process alive while stdin is not read.
      paused ??= setInterval(() => undefined, 60_000);
      return;
    case 'account/login/start':
      if (process.env['STAND_IN_SILENT_LOGIN'] === '1') return;
      write({ id: message.id, result: { type: message.params?.['type'] } });
      write({ method: 'test/got', params: { method: message.method, params: message.params } });
      write({ method: 'account/login/completed', params: { loginId: null, success: true, error: null } });
      return;
    case 'account/logout':
      write({ id: message.id, result: {} });
      write({ method: 'test/got', params: { method: message.method } });
      return;
    case 'test/exit':
      process.exit(Number(message.params?.['code'] ?? 0));
      return;
    case 'test/askRefresh':
      write({ id: `refresh-${++asked}`, method: 'account/chatgptAuthTokens/refresh', params: { reason: 'unauthorized', previousAccountId: null } });
      return;
    default:
      if (message.method === undefined && typeof message.id === 'string' && message.id.startsWith('refresh-')) {
        write({ method: 'test/refreshAnswered', params: { result: message.result ?? null, error: message.error ?? null } });
        return;
      }
      process.stdout.write(`${line}\n`);
  }
});
lines.on('close', () => process.exit(0));
process.on('SIGUSR2', () => {
  clearInterval(paused);
  paused = undefined;
  lines.resume();
});

async function flood(count: number, size: number): Promise<void> {
  const pad = 'x'.repeat(size);
  for (let i = 0; i < count; i++) {
    if (!process.stdout.write(`${JSON.stringify({ method: 'test/chunk', params: { i, pad } })}\n`)) await once(process.stdout, 'drain');
  }
  write({ method: 'test/flooded' });
}
