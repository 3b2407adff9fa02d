// The codex-auth bin: `codex-auth token` is on the hot path of every tool that runs
// `Authorization: Bearer $(codex-auth token)`, so the bare command loads nothing but the bin. Any
// other command line loads the command table (command-line.cjs); `token` with options, help and a
// usage error load nothing more, and every other command loads the full CLI (handlers.cjs, with
// the client library).
import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, cliBin } from './helpers.js';
import { scene } from './refresh-support.js';

describe('the codex-auth bin', () => {
  it('token loads nothing but the bin, not even a dependency; token with options, --help and a bad or stray option add the command table; status the full CLI', async (t) => {
    const s = await scene(t);
    await s.start();
    const { updates } = await s.watcher();
    const fixture = s.writeFixture();
    await updates.next((u) => u.account !== null);

    // Lists, at exit, every CommonJS file the process loaded (the bin and handlers.cjs are CommonJS);
    // `loaded` leaves out the files of dependencies, `files` keeps them.
    const preload = join(s.box.dir, 'loaded.cjs');
    writeFileSync(preload, `process.on('exit', () => process.stderr.write('loaded: ' + JSON.stringify(Object.keys(require.cache)) + '\\n'));\n`);
    const run = async (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string; loaded: string[]; files: string[] }> => {
      const result = await cli(s.box, args, { env: { NODE_OPTIONS: `--require ${preload}` } });
      const line = /^loaded: (.*)$/m.exec(result.stderr);
      assert.ok(line, `the preload reported: ${result.stderr}`);
      const files = (JSON.parse(line[1]!) as string[]).filter((file) => file !== preload);
      const loaded = files.filter((file) => !file.includes('/node_modules/')).map((file) => basename(file));
      return { ...result, loaded, files };
    };

    const token = await run(['token']);
    assert.equal(token.code, 0, token.stderr);
    assert.equal(token.stdout, `${fixture.tokens.access_token}\n`);
    // Not even koffi: the socket's owner says who listens (docs/security.md, "Security model").
    // (main.cjs is compiled from its code cache, not required.)
    assert.deepEqual(token.files, [cliBin]);
    // The first run wrote main.cjs's code cache; the next runs from it, and so does not write it again.
    // (The running daemon's, codexd-main.cjs's, is in the same folder.)
    const caches = join(s.box.env['HOME']!, '.cache', 'codexd');
    const [cache, ...more] = readdirSync(caches).filter((name) => name.startsWith('main.cjs-'));
    assert.ok(cache && more.length === 0, `one code cache of main.cjs: ${readdirSync(caches).join(', ')}`);
    const written = statSync(join(caches, cache)).mtimeMs;
    assert.equal((await run(['token'])).stdout, token.stdout);
    assert.equal(statSync(join(caches, cache)).mtimeMs, written);

    const commandLine = [cliBin, join(dirname(cliBin), 'command-line.cjs')];
    const json = await run(['token', '--json', '--no-autostart']);
    assert.equal(json.code, 0, json.stderr);
    assert.equal((JSON.parse(json.stdout) as { accessToken: string }).accessToken, fixture.tokens.access_token);
    assert.deepEqual(json.files, commandLine);

    const status = await run(['status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^Logged in using ChatGPT as /);
    assert.deepEqual(status.loaded, [basename(cliBin), 'command-line.cjs', 'handlers.cjs']);

    const help = await run(['token', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /^codex-auth \S+ - sign in to Codex once/);
    assert.deepEqual(help.files, commandLine);

    const bad = await run(['token', '--bogus']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^codex-auth: unknown option --bogus/);
    assert.deepEqual(bad.files, commandLine);

    const stray = await run(['token', '--dry-run']);
    assert.equal(stray.code, 2);
    assert.match(stray.stderr, /^codex-auth: --dry-run does not apply to `codex-auth token`/);
    assert.deepEqual(stray.files, commandLine);
  });
});
