// Windows, under Wine (npm run test:windows): `codex-auth service install` registers the user's
// logon task with schtasks, from the XML it prints in a dry run, and `uninstall` deletes it. Wine's
// Task Scheduler keeps a registered task as a file under %SystemRoot%\system32\tasks, of its own
// making. (Whether the task starts codexd at a real logon cannot be tried here.)
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { cli, fileSandbox } from '../helpers.js';

const user = userInfo().username;
const taskFile = join(process.env['SystemRoot'] ?? 'C:\\windows', 'system32', 'tasks', `codexd-${user}`);
/** The default pipe, which the task's `codex-auth daemon start` serves when Wine runs it at once. */
const defaultPipe = `\\\\.\\pipe\\codexd-${user}`;

describe('codex-auth service on Windows (under Wine)', () => {
  // The prefix outlives a run: a task left by one that failed half-way goes first.
  before(() => cli(fileSandbox({ USERNAME: user }), ['service', 'uninstall'], { timeoutMs: 60_000 }));
  after(async () => {
    const box = fileSandbox({ USERNAME: user });
    await cli(box, ['service', 'uninstall'], { timeoutMs: 60_000 });
    await cli(box, ['daemon', 'stop', '--socket', defaultPipe]);
  });

  it('install registers the logon task from the XML a dry run prints; uninstall deletes it', async () => {
    const box = fileSandbox({ USERNAME: user });
    const dry = await cli(box, ['service', 'install', '--dry-run']);
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, new RegExp(`would run: schtasks /Create /TN codexd-${user} /XML .*codexd-task\\.xml /F`));
    assert.ok(!existsSync(taskFile), 'a dry run registers nothing');
    const installed = await cli(box, ['service', 'install'], { timeoutMs: 60_000 });
    assert.equal(installed.code, 0, installed.stderr);
    assert.match(installed.stdout, new RegExp(`ran: schtasks /Create /TN codexd-${user} /XML`));
    assert.ok(existsSync(taskFile), `registered: ${taskFile}`);
    // What schtasks was given (Wine keeps a task of its own making, without the action's details).
    const task = readFileSync(`${box.env['LOCALAPPDATA']}\\codexd\\codexd-task.xml`, 'utf16le');
    assert.match(task, /<LogonType>InteractiveToken<\/LogonType>/);
    assert.match(task, /codex-auth\.cjs&quot; daemon start<\/Arguments>/);
    const removed = await cli(box, ['service', 'uninstall'], { timeoutMs: 60_000 });
    assert.equal(removed.code, 0, removed.stderr);
    assert.ok(!existsSync(taskFile), 'the task is gone');
  });
});
