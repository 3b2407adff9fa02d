// The OS keyring calls, in a child process of their own (started by daemon/keyring/client.ts). A native
// call can block for good (a locked keyring waiting for an unlock prompt nobody answers); then
// only this process hangs, and codexd kills it when the call's timeout passes. Nothing here
// logs: values travel only over the IPC channel, never in arguments or output.
import { Entry, findCredentials } from '@napi-rs/keyring';

export interface KeyringRequest {
  id: number;
  /** `find`: every entry of `service` whose account starts with `account`, as JSON `[{account, password}]`. */
  op: 'get' | 'set' | 'delete' | 'find';
  service: string;
  account: string;
  value?: string;
}

export type KeyringReply = { id: number; ok: true; value: string | null } | { id: number; ok: false; error: string };

// Linux: Secret Service only, as Codex. The package would otherwise fall back to the kernel
// keyring, which Codex does not read and which does not survive a reboot.
const options = process.platform === 'linux' ? { linux: { store: 'secret-service' as const } } : undefined;

/** One Entry per account, reused: each new one opens its own Secret Service session. */
const entries = new Map<string, Entry>();

function run(request: KeyringRequest): string | null {
  if (request.op === 'find') return JSON.stringify(findCredentials(request.service).filter((found) => found.account.startsWith(request.account)));
  const key = `${request.service}\u0000${request.account}`;
  let entry = entries.get(key);
  if (!entry) entries.set(key, (entry = new Entry(request.service, request.account, options)));
  if (request.op === 'get') return entry.getPassword();
  if (request.op === 'set') {
    entry.setPassword(request.value ?? '');
    return null;
  }
  return entry.deleteCredential() ? 'deleted' : null;
}

process.on('message', (request: KeyringRequest) => {
  let reply: KeyringReply;
  try {
    reply = { id: request.id, ok: true, value: run(request) };
  } catch (error) {
    entries.clear(); // a keyring that restarted needs a new session
    reply = { id: request.id, ok: false, error: (error as Error).message.split('\n')[0]! };
  }
  process.send!(reply);
});
process.on('disconnect', () => process.exit(0));
