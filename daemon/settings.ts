// Daemon settings. Precedence (README, "Settings"): command-line flag, then environment variable,
// then the settings file (`config.json` in the config folder, read with `conf`), then the default.
// In the file, keys are the variable names without the `CODEXD_` prefix (`LOGIN_PORT`, …).
//
// SETTINGS is the one table of every setting's type and range: environment variables are checked
// against it here, and the settings file through the JSON schema derived from it (settingsSchema),
// which conf enforces. Every timer setting's maximum stays far below 2^31 − 1 ms, the longest
// delay a Node timer honours (a longer one fires after 1 ms).
import { isAbsolute, join, resolve } from 'node:path';
import Conf from 'conf';
import { configDir, defaultCodexHome, defaultSocketPath } from '../shared/paths.js';

export const DEFAULT_ISSUER = 'https://auth.openai.com';
export const DEFAULT_CLIENT_ID = 'app_EMoamEEZ73f0CkXaXp7hrann';

type Spec =
  | { type: 'integer'; min: number; max: number; default: number }
  | { type: 'string'; default?: string; pattern?: string; expect?: string; oneOf?: readonly string[] }
  | { type: 'boolean' };

const DAY_S = 86_400;

/** SOCKET and CODEX_HOME have no default here: theirs depend on the environment (see loadSettings). */
export const SETTINGS = {
  CODEX_HOME: { type: 'string' },
  SOCKET: { type: 'string' },
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
  /** 0 = no limit. */
  FRAME_TIMEOUT_MS: { type: 'integer', min: 0, max: 3600_000, default: 10_000 },
} as const satisfies Record<string, Spec>;

type Name = keyof typeof SETTINGS;
type IntegerName = { [N in Name]: (typeof SETTINGS)[N]['type'] extends 'integer' ? N : never }[Name];

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

export interface Settings {
  socket: string;
  codexHome: string;
  issuer: string;
  clientId: string;
  loginPort: number;
  refreshMarginS: number;
  logLevel: string;
  /** null = stderr. */
  logFile: string | null;
  loginTimeoutS: number;
  deviceCodeTimeoutS: number;
  httpTimeoutS: number;
  refreshBackoffBaseMs: number;
  refreshBackoffMaxMs: number;
  tickS: number;
  maxConnections: number;
  frameTimeoutMs: number;
}

export interface Flags {
  socket?: string | undefined;
  codexHome?: string | undefined;
  logLevel?: string | undefined;
  logFile?: string | undefined;
}

export class SettingsError extends Error {
  override name = 'SettingsError';
}

/**
 * Checks one value given as text (a variable or a flag) against its setting; `where` is the name
 * the user wrote it under, for the error.
 */
function checkText(name: Name, text: string, where: string): string | number {
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

/** config.json's values, already checked against settingsSchema by conf. */
function readFile(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const dir = configDir(env);
  try {
    return new Conf<Record<string, unknown>>({ cwd: dir, configName: 'config', projectSuffix: '', configFileMode: 0o600, schema: settingsSchema() }).store;
  } catch (error) {
    const message = (error as Error).message;
    // conf's own wording: "Config schema violation: `KEY` must be …; `KEY2` …". Keep the first.
    const violation = /^Config schema violation: `([^`]*)` ([^;]*)/.exec(message);
    const file = join(dir, 'config.json');
    throw new SettingsError(violation ? `${violation[1]} in ${file} ${violation[2]}` : `settings file ${file} is unreadable: ${message}`);
  }
}

export function loadSettings(flags: Flags, env: NodeJS.ProcessEnv = process.env): Settings {
  const file = readFile(env);
  /** The flag, else the variable, else the file's value; undefined when none is set. */
  const pick = (name: Name, flag?: { value: string | undefined; where: string }): string | number | undefined => {
    if (flag?.value !== undefined) return checkText(name, flag.value, flag.where);
    const fromEnv = env[envName(name)];
    if (fromEnv !== undefined && fromEnv !== '') return checkText(name, fromEnv, envName(name));
    const fromFile = file[name];
    return fromFile === undefined || fromFile === null ? undefined : (fromFile as string | number);
  };
  const int = (name: IntegerName): number => (pick(name) as number | undefined) ?? SETTINGS[name].default;
  const text = (name: Name, flag?: { value: string | undefined; where: string }): string | undefined => pick(name, flag) as string | undefined;
  const path = (value: string): string => (isAbsolute(value) ? value : resolve(value));

  const codexHome = path(text('CODEX_HOME', { value: flags.codexHome, where: '--codex-home' }) ?? defaultCodexHome({}));
  return {
    socket: path(text('SOCKET', { value: flags.socket, where: '--socket' }) ?? defaultSocketPath(env, process.platform, codexHome)),
    codexHome,
    issuer: (text('ISSUER') ?? SETTINGS.ISSUER.default).replace(/\/+$/, ''),
    clientId: text('CLIENT_ID') ?? SETTINGS.CLIENT_ID.default,
    loginPort: int('LOGIN_PORT'),
    refreshMarginS: int('REFRESH_MARGIN_S'),
    logLevel: text('LOG_LEVEL', { value: flags.logLevel, where: '--log-level' }) ?? SETTINGS.LOG_LEVEL.default,
    logFile: flags.logFile ? path(flags.logFile) : null,
    loginTimeoutS: int('LOGIN_TIMEOUT_S'),
    deviceCodeTimeoutS: int('DEVICE_CODE_TIMEOUT_S'),
    httpTimeoutS: int('HTTP_TIMEOUT_S'),
    refreshBackoffBaseMs: int('REFRESH_BACKOFF_BASE_MS'),
    refreshBackoffMaxMs: int('REFRESH_BACKOFF_MAX_MS'),
    tickS: int('TICK_S'),
    maxConnections: int('MAX_CONNECTIONS'),
    frameTimeoutMs: int('FRAME_TIMEOUT_MS'),
  };
}
