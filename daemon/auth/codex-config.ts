// The Codex settings codexd must respect, from the top level of $CODEX_HOME/config.toml: where
// Codex keeps its login, `cli_auth_credentials_store` (file, keyring or auto; docs/keyring.md),
// and the ChatGPT backend Codex asks for usage, `chatgpt_base_url` (docs/usage.md). Re-read
// whenever config.toml changes, so a switch needs no restart.
import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { readBoundedSync } from '../../shared/bounded-read.js';

export type StoreMode = 'file' | 'keyring' | 'auto';

const KEY = 'cli_auth_credentials_store';
const BASE_URL_KEY = 'chatgpt_base_url';
const MODES: readonly string[] = ['file', 'keyring', 'auto'];
/** Codex's default `chatgpt_base_url`. */
export const DEFAULT_CHATGPT_BASE_URL = 'https://chatgpt.com/backend-api/';

export type ConfigRead = { mode: StoreMode; problem: string | null; chatgptBaseUrl: string } | { unreadable: string };

/** What config.toml says; `unreadable` when it cannot be read or is not valid TOML (Codex itself would refuse it). */
export function readCodexConfig(codexHome: string): ConfigRead {
  const defaults = { mode: 'file' as const, problem: null, chatgptBaseUrl: DEFAULT_CHATGPT_BASE_URL };
  const found = readBoundedSync(join(codexHome, 'config.toml'));
  if (found.kind === 'missing') return defaults;
  if (found.kind === 'unreadable') return { unreadable: found.reason };
  const text = found.bytes.toString('utf8');
  if (!text.includes(KEY) && !text.includes(BASE_URL_KEY)) return defaults; // no need to parse the rest
  let table: Record<string, unknown>;
  try {
    table = parse(text);
  } catch (error) {
    return { unreadable: `config.toml is not valid TOML (${(error as Error).message.split('\n')[0]})` };
  }
  const baseUrl = table[BASE_URL_KEY];
  const chatgptBaseUrl = typeof baseUrl === 'string' && /^https?:\/\/[^/]/.test(baseUrl) ? baseUrl : DEFAULT_CHATGPT_BASE_URL;
  const value = table[KEY];
  if (value === undefined) return { ...defaults, chatgptBaseUrl };
  if (typeof value === 'string' && MODES.includes(value)) return { mode: value as StoreMode, problem: null, chatgptBaseUrl };
  return { mode: 'file', problem: `${KEY} = ${JSON.stringify(value)} in config.toml is not one codexd knows (file, keyring or auto), so it uses auth.json`, chatgptBaseUrl };
}

/** The current mode, and `changed` when config.toml switches it. */
export class CodexConfig extends EventEmitter<{ changed: [StoreMode] }> {
  private current: StoreMode = 'file';
  private why: string | null = null;
  private baseUrl = DEFAULT_CHATGPT_BASE_URL;

  constructor(private readonly codexHome: string) {
    super();
    this.reread();
  }

  get mode(): StoreMode {
    return this.current;
  }

  /** `chatgpt_base_url`: where Codex, and codexd, ask the ChatGPT backend for usage. */
  get chatgptBaseUrl(): string {
    return this.baseUrl;
  }

  /** Why config.toml could not be followed as written, or null. */
  get problem(): string | null {
    return this.why;
  }

  /** A config.toml that does not parse (an editor half-way through a save) keeps the mode in force. */
  reread(): void {
    const read = readCodexConfig(this.codexHome);
    if ('unreadable' in read) {
      this.why = `${read.unreadable}; codexd keeps using ${this.current === 'file' ? 'auth.json' : `the ${this.current} store`}`;
      return;
    }
    this.why = read.problem;
    this.baseUrl = read.chatgptBaseUrl;
    if (read.mode === this.current) return;
    this.current = read.mode;
    this.emit('changed', read.mode);
  }
}
