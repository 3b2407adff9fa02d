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
  out(`${name} set to ${JSON.stringify(settings.get(name))} in ${file}; ${takesEffect(name)}`);
  return 0;
}

/** Settings only clients read: the next command uses them, no daemon restart needed. */
const CLIENT_ONLY: readonly Name[] = ['NO_AUTOSTART', 'CODEX'];

function takesEffect(name: Name): string {
  return CLIENT_ONLY.includes(name) ? 'codex-auth uses it from its next run' : 'a running codexd uses it once restarted (codex-auth daemon restart)';
}

const shown = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

/** The settings in the file; with `all`, every setting, and its default where the file does not set it. */
export async function configList(json: boolean, all: boolean): Promise<number> {
  const settings = await openSettingsFile();
  const set = settings.store as Record<string, unknown>;
  if (all) {
    const every = Object.fromEntries(Object.entries(SETTINGS).map(([name, spec]) => [name, name in set ? set[name] : 'default' in spec ? spec.default : null]));
    if (json) out(jsonText(every));
    else for (const [name, value] of Object.entries(every)) out(`${name}=${value === null ? '' : shown(value)}${name in set ? '' : value === null ? '  (not set)' : '  (default)'}`);
    return 0;
  }
  if (json) out(jsonText(set));
  else if (Object.keys(set).length === 0) out(`Nothing is set in ${settingsFilePath()}: every setting has its default (codex-auth config list --all shows them)`);
  else for (const [name, value] of Object.entries(set)) out(`${name}=${shown(value)}`);
  return 0;
}

export async function configUnset(key: string): Promise<number> {
  const name = settingName(key);
  const settings = await openSettingsFile();
  if (!settings.has(name)) {
    out(`${name} was not set in ${settingsFilePath()}; nothing changed`);
    return 0;
  }
  settings.delete(name);
  out(`${name} removed from ${settingsFilePath()}; ${takesEffect(name)}`);
  return 0;
}

export async function configGet(key: string): Promise<number> {
  const name = settingName(key);
  const settings = await openSettingsFile();
  const set = settings.get(name);
  if (set === undefined) {
    const spec = SETTINGS[name];
    process.stderr.write(`codex-auth: ${name} is not set in ${settingsFilePath()}${'default' in spec ? ` (default: ${spec.default})` : ''}\n`);
    return 1;
  }
  out(shown(set));
  return 0;
}
