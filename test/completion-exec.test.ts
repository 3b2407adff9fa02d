// `codex-auth completion` sourced into a real bash and completed, and `codex-auth exec` running a
// command with the credential in its environment only.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { API_KEY, deviceLogin } from './accounts-support.js';
import { cli, cliBin } from './helpers.js';
import { OTHER_ACCOUNT, scene, type Scene } from './refresh-support.js';

/** Completes `line` (the words so far, the last one being completed) in a real bash with the generated script loaded. */
function complete(s: Scene, words: string[]): string[] {
  const script = join(s.box.dir, 'completion.bash');
  const bin = join(s.box.dir, 'codex-auth');
  writeFileSync(bin, `#!/bin/sh\nexec "${process.execPath}" "${cliBin}" "$@"\n`, { mode: 0o755 });
  const generated = spawnSync(bin, ['completion', 'bash'], { env: s.box.env, encoding: 'utf8' });
  assert.equal(generated.status, 0, generated.stderr);
  writeFileSync(script, generated.stdout);
  const program = `source ${script}; complete -p codex-auth; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _codex_auth; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const result = spawnSync('bash', ['--noprofile', '--norc', '-c', program], { env: { ...s.box.env, CODEXD_COMPLETION_WAIT_MS: '10000', PATH: `${s.box.dir}:${s.box.env['PATH']}` }, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  const [registration, ...candidates] = result.stdout.split('\n').filter(Boolean);
  assert.equal(registration, 'complete -F _codex_auth codex-auth');
  return candidates;
}

describe('completion', () => {
  test('bash completes commands, subcommands, flags and the running daemon\'s account names', async (t) => {
    const s = await scene(t);
    assert.deepEqual(complete(s, ['codex-auth', 'sw']), ['switch']);
    assert.deepEqual(complete(s, ['codex-auth', 'daemon', 'st']).sort(), ['start', 'status', 'stop']);
    assert.ok(complete(s, ['codex-auth', 'token', '--']).includes('--force-refresh'));
    assert.deepEqual(complete(s, ['codex-auth', 'switch', '']), [], 'no daemon: no names, and none started');
    assert.equal((await cli(s.box, ['daemon', 'status'])).code, 1);
    await s.start();
    const c = await s.client();
    await deviceLogin(s, c, s.issuer.account);
    await deviceLogin(s, c, OTHER_ACCOUNT, 'work');
    assert.deepEqual(complete(s, ['codex-auth', 'switch', '']).sort(), ['dev@example.com', 'work']);
    assert.deepEqual(complete(s, ['codex-auth', 'switch', 'w']), ['work']);
    assert.deepEqual(complete(s, ['codex-auth', 'token', '--account', 'w']), ['work']);
  });

  test('zsh and fish scripts are made from the same table; an unknown shell is a usage error', async (t) => {
    const s = await scene(t);
    for (const shell of ['zsh', 'fish']) {
      const { code, stdout } = await cli(s.box, ['completion', shell]);
      assert.equal(code, 0);
      assert.match(stdout, /switch/);
      assert.match(stdout, /force-refresh/);
      assert.match(stdout, /__complete accounts/);
    }
    const fish = spawnSync('fish', ['--no-execute', '-c', (await cli(s.box, ['completion', 'fish'])).stdout], { encoding: 'utf8' });
    if (fish.error === undefined) assert.equal(fish.status, 0, fish.stderr);
    const bad = await cli(s.box, ['completion', 'tcsh']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /^codex-auth: no completion for "tcsh": codex-auth completion bash\|zsh\|fish\n$/);
  });
});

describe('exec', () => {
  const printer = (s: Scene, variable: string) => {
    const file = join(s.box.dir, 'show.sh');
    writeFileSync(file, `#!/bin/sh\nprintf '%s' "$${variable}" > "${s.box.dir}/seen"\necho "args: $*"\nexit 7\n`, { mode: 0o755 });
    return file;
  };

  test('an API key lands in OPENAI_API_KEY, never in argv; CMD\'s status is codex-auth\'s', async (t) => {
    const s = await scene(t);
    await s.start();
    assert.equal((await cli(s.box, ['login', '--with-api-key'], { input: `${API_KEY}\n` })).code, 0);
    const run = await cli(s.box, ['exec', '--', printer(s, 'OPENAI_API_KEY'), 'one', '--two']);
    assert.equal(run.code, 7);
    assert.equal(run.stdout, 'args: one --two\n');
    assert.equal(spawnSync('cat', [join(s.box.dir, 'seen')], { encoding: 'utf8' }).stdout, API_KEY);
  });

  test('a ChatGPT login needs --env; with it, the access token is there; --account picks another account', async (t) => {
    const s = await scene(t);
    await s.start();
    const c = await s.client();
    await deviceLogin(s, c, s.issuer.account);
    await deviceLogin(s, c, OTHER_ACCOUNT, 'work');
    const refused = await cli(s.box, ['exec', '--', 'true']);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^codex-auth: .*--env VAR/);
    const run = await cli(s.box, ['exec', '--account', 'dev@example.com', '--env', 'TOKEN', '--', printer(s, 'TOKEN')]);
    assert.equal(run.code, 7);
    const token = (await c.token({ account: 'dev@example.com' })) as { accessToken: string };
    assert.equal(spawnSync('cat', [join(s.box.dir, 'seen')], { encoding: 'utf8' }).stdout, token.accessToken);
  });

  test('a command that does not exist exits 127 with one line; a signal ends CMD and codex-auth as a shell would', async (t) => {
    const s = await scene(t);
    await s.start();
    assert.equal((await cli(s.box, ['login', '--with-api-key'], { input: `${API_KEY}\n` })).code, 0);
    const missing = await cli(s.box, ['exec', '--', 'no-such-command-here']);
    assert.equal(missing.code, 127);
    assert.equal(missing.stderr, 'codex-auth: cannot run "no-such-command-here": no such command on PATH\n');
    const killed = await cli(s.box, ['exec', '--', 'sh', '-c', 'kill -TERM $$']);
    assert.equal(killed.code, 128 + 15);
    const bad = await cli(s.box, ['exec', '--env', '1X', '--', 'true']);
    assert.equal(bad.code, 2);
  });
});
