// `codex-auth config get|set|unset|list`: edits the settings file through conf, so a value is
// checked against the settings table before it is written (docs/settings.md). Loaded only by
// this command: conf and its schema compiler stay off every other command's start-up.
import { openSettingsFile, schemaError } from '../../shared/conf.js';
import { settingsFilePath } from '../../shared/paths.js';
import { checkText, SETTINGS, type Name } from '../../shared/settings.js';
import { jsonText, printable } from './format.js';
import { UsageError } from './usage.js';

function settingName(key: string): Name {
  const name = key.toUpperCase().replace(/^CODEXD_/, '');
  if (!(name in SETTINGS)) throw new UsageError(`unknown setting "${key}"; the settings are ${Object.keys(SETTINGS).join(', ')}`);
  return name as Name;
}

function out(line: string): void {
  process.stdout.write(`${printable(line)}\n`);
}

export async function configSet(key: string, value: string): Promise<number> {
  const file = settingsFilePath();
  const name = settingName(key);
  const text = checkText(name, value, name);
  const settings = await openSettingsFile();
  try {
    settings.set(name, SETTINGS[name].type === 'boolean' ? text === '1' || text === 'true' : text);
  } catch (error) {
    throw schemaError(error, file);
  }
  out(`${name} set to ${JSON.stringify(settings.get(name))} in ${file}; a running codexd uses it once restarted (codex-auth daemon stop)`);
  return 0;
}

export async function configList(json: boolean): Promise<number> {
  const settings = await openSettingsFile();
  if (json) out(jsonText(settings.store));
  else for (const [name, set] of Object.entries(settings.store)) out(`${name}=${typeof set === 'string' ? set : JSON.stringify(set)}`);
  return 0;
}

export async function configUnset(key: string): Promise<number> {
  const name = settingName(key);
  const settings = await openSettingsFile();
  settings.delete(name);
  out(`${name} removed from ${settingsFilePath()}`);
  return 0;
}

export async function configGet(key: string): Promise<number> {
  const name = settingName(key);
  const settings = await openSettingsFile();
  const set = settings.get(name);
  if (set === undefined) {
    const spec = SETTINGS[name];
    process.stderr.write(`${name} is not set in ${settingsFilePath()}${'default' in spec ? ` (default: ${spec.default})` : ''}\n`);
    return 1;
  }
  out(typeof set === 'string' ? set : JSON.stringify(set));
  return 0;
}
