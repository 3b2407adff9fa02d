// The one table of codexd's settings, with each setting's type and range. The daemon loads its
// settings by it (daemon/runtime/settings.ts) and `codex-auth config` edits the settings file by it.
// Precedence (docs/settings.md): command-line flag, then environment variable, then the
// settings file (`config.json` in the config folder), then the default. In the file, keys are
// the variable names without the `CODEXD_` prefix (`LOGIN_PORT`, …).
//
// Variables, flags and `codex-auth config set` values are checked with checkText; the file's
// values through the JSON schema derived from the table (settingsSchema), which conf enforces
// (shared/conf.ts). Every timer setting's maximum stays far below 2^31 − 1 ms, the longest
// delay a Node timer honours (a longer one fires after 1 ms).
import { SettingsError } from './errors.js';

export const DEFAULT_ISSUER = 'https://auth.openai.com';
export const DEFAULT_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann';

export type Spec =
  | { type: 'integer'; min: number; max: number; default: number }
  | { type: 'string'; default?: string; pattern?: string; expect?: string; oneOf?: readonly string[] }
  | { type: 'boolean' };

const DAY_S = 86_400;

/**
 * SOCKET, RESTRICTED_SOCKET and CODEX_HOME have no default here: theirs depend on the environment
 * (see shared/paths.ts).
 */
export const SETTINGS = {
  CODEX_HOME: { type: 'string' },
  SOCKET: { type: 'string' },
  /** A path, or `off`; by default beside SOCKET (docs/remote.md). */
  RESTRICTED_SOCKET: { type: 'string' },
  ISSUER: { type: 'string', default: DEFAULT_ISSUER, pattern: '^https?://[^/]', expect: 'an http(s) URL' },
  CLIENT_ID: { type: 'string', default: DEFAULT_CLIENT_ID },
  /** 0 = any free port. */
  LOGIN_PORT: { type: 'integer', min: 0, max: 65_535, default: 1455 },
  REFRESH_MARGIN_S: { type: 'integer', min: 0, max: DAY_S, default: 600 },
  NO_AUTOSTART: { type: 'boolean' },
  LOG_LEVEL: { type: 'string', default: 'info', oneOf: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  LOGIN_TIMEOUT_S: { type: 'integer', min: 1, max: DAY_S, default: 600 },
  DEVICE_CODE_TIMEOUT_S: { type: 'integer', min: 1, max: DAY_S, default: 900 },
  HTTP_TIMEOUT_S: { type: 'integer', min: 1, max: 3600, default: 30 },
  REFRESH_BACKOFF_BASE_MS: { type: 'integer', min: 1, max: DAY_S * 1000, default: 1000 },
  REFRESH_BACKOFF_MAX_MS: { type: 'integer', min: 1, max: DAY_S * 1000, default: 300_000 },
  /** How often wall-clock time is compared with the refresh schedule (catches laptop sleep). */
  TICK_S: { type: 'integer', min: 1, max: 3600, default: 30 },
  MAX_CONNECTIONS: { type: 'integer', min: 1, max: 100_000, default: 512 },
  /** A follower's upstream socket (docs/remote.md); unset = not a follower. */
  UPSTREAM: { type: 'string' },
  /** A follower's time limit for each request to its upstream, and the period of its heartbeat there. */
  UPSTREAM_TIMEOUT_MS: { type: 'integer', min: 100, max: 600_000, default: 10_000 },
  /** The longest wait between a follower's attempts to reach its upstream (the backoff's ceiling). */
  UPSTREAM_RETRY_MAX_MS: { type: 'integer', min: 100, max: 30_000, default: 30_000 },
  /** The Codex executable `codex-auth app-server` runs (default: `codex` on PATH). */
  CODEX: { type: 'string' },
  /** 0 = no limit. */
  FRAME_TIMEOUT_MS: { type: 'integer', min: 0, max: 3600_000, default: 10_000 },
  /** How long one OS keyring call may take before codexd gives up on it (keyring and auto mode). */
  KEYRING_TIMEOUT_MS: { type: 'integer', min: 100, max: 600_000, default: 10_000 },
  /** How often the keyring entry is read for outside changes (keyring and auto mode). */
  KEYRING_POLL_MS: { type: 'integer', min: 100, max: 3600_000, default: 1000 },
  /** How long an account's usage is served from the cache; the poll asks at most once a minute (docs/usage.md). */
  USAGE_CACHE_S: { type: 'integer', min: 1, max: 3600, default: 60 },
  /** Switch the active account when a usage window reaches this percentage; 0 = never (docs/usage.md). */
  SWITCH_AT: { type: 'integer', min: 0, max: 100, default: 0 },
} as const satisfies Record<string, Spec>;

export type Name = keyof typeof SETTINGS;
export type IntegerName = { [N in Name]: (typeof SETTINGS)[N]['type'] extends 'integer' ? N : never }[Name];

/** The variable that sets `name`: `CODEXD_<NAME>`, except CODEX_HOME, which is Codex's own. */
export function envName(name: Name): string {
  return name === 'CODEX_HOME' ? name : `CODEXD_${name}`;
}

/** Values a boolean setting takes in the environment (the file also takes JSON true, false, 0 and 1). */
const BOOLEAN_TEXT = ['0', '1', 'false', 'true'];

/** The JSON schema of config.json, for conf: each setting's type and range. */
export function settingsSchema(): Record<string, object> {
  const schemaOf = (spec: Spec): object => {
    if (spec.type === 'integer') return { type: 'integer', minimum: spec.min, maximum: spec.max };
    if (spec.type === 'boolean') return { enum: [true, false, 0, 1, ...BOOLEAN_TEXT] };
    if (spec.oneOf) return { enum: spec.oneOf };
    return { type: 'string', minLength: 1, ...(spec.pattern ? { pattern: spec.pattern } : {}) };
  };
  return Object.fromEntries(Object.entries(SETTINGS).map(([name, spec]) => [name, schemaOf(spec)]));
}

/** Why a value of the settings file does not fit `spec` (what it must be), or null when it fits. */
function fileValueProblem(spec: Spec, value: unknown): string | null {
  if (spec.type === 'integer') return Number.isSafeInteger(value) && (value as number) >= spec.min && (value as number) <= spec.max ? null : `an integer from ${spec.min} to ${spec.max}`;
  if (spec.type === 'boolean') return [true, false, 0, 1, ...BOOLEAN_TEXT].includes(value as string) ? null : `one of true, false, ${BOOLEAN_TEXT.join(', ')}`;
  if (typeof value !== 'string' || value === '') return 'a non-empty string';
  if (spec.oneOf && !spec.oneOf.includes(value)) return `one of ${spec.oneOf.join(', ')}`;
  if (spec.pattern && !new RegExp(spec.pattern).test(value)) return spec.expect ?? `a string matching ${spec.pattern}`;
  return null;
}

/**
 * Checks the settings file's values (its parsed JSON, from `file`) against the table, as
 * settingsSchema does for conf, without loading conf: the first value that does not fit names its
 * key, the file and the value given. Keys that are not settings are left alone.
 */
export function checkFileValues(values: Record<string, unknown>, file: string): Record<string, unknown> {
  for (const [name, value] of Object.entries(values)) {
    if (!Object.hasOwn(SETTINGS, name)) continue;
    const problem = fileValueProblem(SETTINGS[name as Name], value);
    if (problem) throw new SettingsError(`${name} in ${file} must be ${problem}, got ${JSON.stringify(value)}`);
  }
  return values;
}

/**
 * Checks one value given as text (a variable or a flag) against its setting; `where` is the name
 * the user wrote it under, for the error.
 */
export function checkText(name: Name, text: string, where: string): string | number {
  const spec: Spec = SETTINGS[name];
  const got = `got ${JSON.stringify(text)}`;
  if (spec.type === 'integer') {
    const value = /^\d{1,16}$/.test(text) ? Number(text) : NaN;
    if (!(value >= spec.min && value <= spec.max)) throw new SettingsError(`${where} must be an integer from ${spec.min} to ${spec.max}, ${got}`);
    return value;
  }
  if (spec.type === 'boolean') {
    if (!BOOLEAN_TEXT.includes(text)) throw new SettingsError(`${where} must be one of ${BOOLEAN_TEXT.join(', ')}, ${got}`);
    return text;
  }
  if (spec.oneOf && !spec.oneOf.includes(text)) throw new SettingsError(`${where} must be one of ${spec.oneOf.join(', ')}, ${got}`);
  if (spec.pattern && !new RegExp(spec.pattern).test(text)) throw new SettingsError(`${where} must be ${spec.expect}, ${got}`);
  return text;
}
