// `codex-auth service` on Windows: a Task Scheduler task of the user's own, `codexd-<user>`,
// registered from XML with schtasks (no administrator rights: it runs as the user, only while the
// user is logged on, with the user's own token). At logon it runs `codex-auth daemon start`, which
// starts codexd detached with no console window, through the same spawn lock as every client, so
// a client racing it at logon never makes a second daemon (docs/windows.md).
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stateDir } from '../../shared/paths.js';
import { COMMAND_TIMEOUT_MS, type Env, type Io, lexists, runCommand } from './service-files.js';

/** The codex-auth bin of this install, beside this file in dist/client/cli/. */
const CLI_MAIN = fileURLToPath(new URL('./codex-auth.cjs', import.meta.url));

/** DOMAIN\user, as Task Scheduler names the logon trigger's and the principal's user. */
function taskUser(env: Env): string {
  const user = env['USERNAME'] || userInfo().username;
  return env['USERDOMAIN'] ? `${env['USERDOMAIN']}\\${user}` : user;
}

/** Task names are machine-wide: one per user. */
export function taskName(env: Env): string {
  return `codexd-${(env['USERNAME'] || userInfo().username).replace(/[^A-Za-z0-9._-]/g, '_')}`;
}

function xmlFile(env: Env): string {
  return join(stateDir(env, 'win32'), 'codexd-task.xml');
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** The task: at this user's logon, `node codex-auth.cjs daemon start`; no time limit, on battery too, one at a time. */
export function taskXml(env: Env, node = process.execPath, cli = CLI_MAIN): string {
  const user = xml(taskUser(env));
  return `<?xml version="1.0" encoding="UTF-16"?>
<Task version="1.2" xmlns="http://schemas.microsoft.com/windows/2004/02/mit/task">
  <RegistrationInfo>
    <Description>codexd: one daemon that owns Codex's auth.json for every tool (codex-auth service install)</Description>
  </RegistrationInfo>
  <Triggers>
    <LogonTrigger>
      <Enabled>true</Enabled>
      <UserId>${user}</UserId>
    </LogonTrigger>
  </Triggers>
  <Principals>
    <Principal id="Author">
      <UserId>${user}</UserId>
      <LogonType>InteractiveToken</LogonType>
      <RunLevel>LeastPrivilege</RunLevel>
    </Principal>
  </Principals>
  <Settings>
    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>
    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>
    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>
    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>
    <Enabled>true</Enabled>
  </Settings>
  <Actions Context="Author">
    <Exec>
      <Command>${xml(node)}</Command>
      <Arguments>${xml(`"${cli}" daemon start`)}</Arguments>
    </Exec>
  </Actions>
</Task>
`;
}

async function schtasks(args: string[], o: Io): Promise<boolean> {
  const result = await runCommand('schtasks', args, o.env, COMMAND_TIMEOUT_MS);
  if (result.ok) o.out(`ran: schtasks ${args.join(' ')}`);
  else o.err(`codex-auth: \`schtasks ${args.join(' ')}\` failed (${result.why})`);
  return result.ok;
}

export async function installTask(o: Io): Promise<number> {
  const name = taskName(o.env);
  const file = xmlFile(o.env);
  const create = ['/Create', '/TN', name, '/XML', file, '/F'];
  const run = ['/Run', '/TN', name];
  if (o.dryRun) {
    o.out(`would write: ${file}`);
    o.out(taskXml(o.env).trimEnd());
    o.out(`would run: schtasks ${create.join(' ')}`);
    o.out(`would run: schtasks ${run.join(' ')}`);
    return 0;
  }
  mkdirSync(stateDir(o.env, 'win32'), { recursive: true });
  // schtasks reads the XML as UTF-16, as it declares.
  writeFileSync(file, Buffer.from(`\ufeff${taskXml(o.env)}`, 'utf16le'));
  o.out(`wrote: ${file}`);
  if (!(await schtasks(create, o))) return 1;
  return (await schtasks(run, o)) ? 0 : 1;
}

export async function uninstallTask(o: Io): Promise<number> {
  const name = taskName(o.env);
  const file = xmlFile(o.env);
  const remove = ['/Delete', '/TN', name, '/F'];
  if (o.dryRun) {
    o.out(`would run: schtasks ${remove.join(' ')}`);
    if (lexists(file)) o.out(`would remove: ${file}`);
    return 0;
  }
  // Fails when there is no such task, which is fine: there is nothing to remove. The daemon keeps running until stopped.
  const result = await runCommand('schtasks', remove, o.env, COMMAND_TIMEOUT_MS);
  o.out(result.ok ? `ran: schtasks ${remove.join(' ')}` : `absent: task ${name}`);
  if (lexists(file)) {
    unlinkSync(file);
    o.out(`removed: ${file}`);
  }
  return 0;
}
