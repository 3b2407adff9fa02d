// Every codex-auth command against socket paths that cannot work: one line on stderr saying
// what is wrong with the path, exit status 2, nothing on stdout, and never a stack trace.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli, sandbox } from './helpers.js';

const box = sandbox();
after(() => box.cleanup());

const COMMANDS = [
  ['status'],
  ['status', '--json'],
  ['login', 'status'],
  ['token'],
  ['token', '--json', '--force-refresh'],
  ['logout'],
  ['login', '--with-api-key'],
  ['login', '--api-key', 'sk-bad-socket-0123456789'],
  ['login', '--device-auth'],
  ['login', '--no-browser'],
  ['status', '--no-autostart'],
  ['daemon', 'status'],
  ['daemon', 'start'],
  ['daemon', 'stop'],
];

/** Bad paths, each with what the one line must say. */
function badPaths(): Array<{ name: string; path: string; says: RegExp }> {
  const run = join(box.dir, 'run');
  const file = join(run, 'a-file');
  writeFileSync(file, 'keep me\n');
  const dir = join(run, 'a-dir');
  mkdirSync(dir, { mode: 0o700 });
  const open = join(box.dir, 'open');
  mkdirSync(open);
  chmodSync(open, 0o777);
  mkdirSync(join(run, 'real'), { mode: 0o700 });
  symlinkSync(join(run, 'real'), join(run, 'link'));
  const paths = [
    { name: 'a folder that cannot exist', path: '/nonexistent/dir/codexd.sock', says: /the folder \/nonexistent does not exist/ },
    { name: 'a path in /proc', path: '/proc/foo.sock', says: /its folder \/proc .*has mode 0555/ },
    { name: 'a regular file', path: file, says: /it is a regular file/ },
    { name: 'a directory', path: dir, says: /it is a directory/ },
    { name: 'an over-long path', path: join(run, 'x'.repeat(120), 'codexd.sock'), says: /longer than this platform's limit/ },
    { name: 'a path in a 0777 folder', path: join(open, 'codexd.sock'), says: /has mode 0777, open to other users/ },
    { name: 'a path through a symlinked folder', path: join(run, 'link', 'codexd.sock'), says: /its folder .*\/link is a symlink/ },
  ];
  if (process.getuid?.() === 0) {
    const theirs = join(box.dir, 'theirs');
    mkdirSync(theirs, { mode: 0o700 });
    chownSync(theirs, 65534, 65534);
    paths.push({ name: "a folder of another user's", path: join(theirs, 'codexd.sock'), says: /owned by nobody \(uid 65534\)/ });
  }
  return paths;
}

describe('codex-auth with a bad --socket', () => {
  it('every command, every bad path: one line, exit status 2, no stack trace', async (t) => {
    if (process.getuid?.() !== 0) t.diagnostic('not root: the case of a folder owned by another user is left out');
    const cases = badPaths().flatMap((bad) => COMMANDS.map((args) => ({ bad, args: [...args, '--socket', bad.path] })));
    const failures: string[] = [];
    // A few at a time: this runs on a shared 2-core machine.
    for (let i = 0; i < cases.length; i += 4) {
      await Promise.all(
        cases.slice(i, i + 4).map(async ({ bad, args }) => {
          const run = await cli(box, args, { input: 'sk-typed-0123456789\n' });
          const what = `${bad.name}: codex-auth ${args.slice(0, -2).join(' ')} -> ${run.code} ${JSON.stringify(run.stdout + run.stderr)}`;
          // Progress lines and the --api-key warning may come first; the error is the last line, and the only one.
          const lines = run.stderr.trimEnd().split('\n');
          const errors = lines.filter((line) => line.startsWith('codex-auth: ') && !line.startsWith('codex-auth: Warning: '));
          if (/^\s+at /m.test(run.stderr) || run.code !== 2 || run.stdout !== '' || errors.length !== 1 || errors[0] !== lines.at(-1) || !bad.says.test(errors[0]!)) {
            failures.push(what);
          }
        }),
      );
    }
    assert.deepEqual(failures, []);
    assert.equal(readFileSync(join(box.dir, 'run', 'a-file'), 'utf8'), 'keep me\n', 'the regular file is left as it was');
  });
});
