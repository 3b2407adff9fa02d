// The settings file through conf, which checks it against the settings table's JSON schema.
// Loaded only by the daemon when a settings file exists and by `codex-auth config`: conf
// compiles the schema with ajv, which costs more start-up time than anything else codexd loads.
import { mkdirSync } from 'node:fs';
import { SettingsError } from './errors.js';
import { configDir, readSettingsFile, settingsFilePath } from './paths.js';
import { checkFileValues, settingsSchema } from './settings.js';

export type SettingsFile = import('conf').default<Record<string, unknown>>;

/** A file that is not JSON fails as readSettingsFile fails; a value out of its range names its key and the value, as the daemon does. */
export async function openSettingsFile(env: NodeJS.ProcessEnv = process.env): Promise<SettingsFile> {
  checkFileValues(readSettingsFile(env), settingsFilePath(env));
  // Private, like every folder codexd makes; conf would create a missing one with the umask's mode.
  mkdirSync(configDir(env), { recursive: true, mode: 0o700 });
  const { default: Conf } = await import('conf');
  try {
    return new Conf<Record<string, unknown>>({ cwd: configDir(env), configName: 'config', projectSuffix: '', configFileMode: 0o600, schema: settingsSchema() });
  } catch (error) {
    throw schemaError(error, settingsFilePath(env));
  }
}

/** conf's own wording, "Config schema violation: `KEY` must be …; `KEY2` …", as one line naming the key and the file. */
export function schemaError(error: unknown, file: string): Error {
  const message = (error as Error).message;
  const violation = /^Config schema violation: `([^`]*)` ([^;]*)/.exec(message);
  return new SettingsError(violation ? `${violation[1]} in ${file} ${violation[2]}` : `settings file ${file} is unreadable: ${message}`);
}
