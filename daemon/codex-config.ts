// The one Codex setting codexd must respect: where Codex keeps its login.
// With `cli_auth_credentials_store = "keyring"` (or "auto") Codex saves to the OS keyring and
// deletes auth.json, so codexd and Codex would no longer share a login.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The store Codex is configured to use ("file" when unset or unreadable). */
export function codexCredentialsStore(codexHome: string): string {
  let text: string;
  try {
    text = readFileSync(join(codexHome, 'config.toml'), 'utf8');
  } catch {
    return 'file';
  }
  for (const line of text.split('\n')) {
    if (/^\s*\[/.test(line)) break; // only top-level keys count
    const match = /^\s*cli_auth_credentials_store\s*=\s*["']([A-Za-z]+)["']/.exec(line);
    if (match) return match[1]!.toLowerCase();
  }
  return 'file';
}

export function keyringNote(store: string): string | null {
  if (store === 'file') return null;
  return `Codex is set to keep its login in the OS keyring (cli_auth_credentials_store = "${store}" in config.toml), where codexd cannot share it; set it to "file" and log in again`;
}
