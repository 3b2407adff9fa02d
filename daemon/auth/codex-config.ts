// The one Codex setting codexd must respect: where Codex keeps its login,
// `cli_auth_credentials_store` at the top level of $CODEX_HOME/config.toml (file, keyring or auto).
// Re-read whenever config.toml changes, so a switch needs no restart (docs/keyring.md).
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';

export type StoreMode = 'file' | 'keyring' | 'auto';

const KEY = 'cli_auth_credentials_store';
const MODES: readonly string[] = ['file', 'keyring', 'auto'];

export type ConfigRead = { mode: StoreMode; problem: string | null } | { unreadable: string };

/** What config.toml says; `unreadable` when it is not valid TOML (Codex itself would refuse it). */
export function readStoreMode(codexHome: string): ConfigRead {
  let text: string;
  try {
    text = readFileSync(join(codexHome, 'config.toml'), 'utf8');
  } catch {
    return { mode: 'file', problem: null };
  }
  if (!text.includes(KEY)) return { mode: 'file', problem: null }; // no need to parse the rest
  let value: unknown;
  try {
    value = parse(text)[KEY];
  } catch (error) {
    return { unreadable: `config.toml is not valid TOML (${(error as Error).message.split('\n')[0]})` };
  }
  if (value === undefined) return { mode: 'file', problem: null };
  if (typeof value === 'string' && MODES.includes(value)) return { mode: value as StoreMode, problem: null };
  return { mode: 'file', problem: `${KEY} = ${JSON.stringify(value)} in config.toml is not one codexd knows (file, keyring or auto), so it uses auth.json` };
}

/** The current mode, and `changed` when config.toml switches it. */
export class CodexConfig extends EventEmitter<{ changed: [StoreMode] }> {
  private current: StoreMode = 'file';
  private why: string | null = null;

  constructor(private readonly codexHome: string) {
    super();
    this.reread();
  }

  get mode(): StoreMode {
    return this.current;
  }

  /** Why config.toml could not be followed as written, or null. */
  get problem(): string | null {
    return this.why;
  }

  /** A config.toml that does not parse (an editor half-way through a save) keeps the mode in force. */
  reread(): void {
    const read = readStoreMode(this.codexHome);
    if ('unreadable' in read) {
      this.why = `${read.unreadable}; codexd keeps using ${this.current === 'file' ? 'auth.json' : `the ${this.current} store`}`;
      return;
    }
    this.why = read.problem;
    if (read.mode === this.current) return;
    this.current = read.mode;
    this.emit('changed', read.mode);
  }
}
