// `codex-auth remote ssh-config HOST` and `codex-auth remote container` (issue 13, set-up help):
// the real CLI prints lines that the real ssh (and docker's own parser, where installed) read as
// meant, pointing at the restricted socket this machine's codexd serves.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { cli, fileSandbox, restrictedSocket } from './helpers.js';

const box = fileSandbox();
const uid = process.getuid!();
const hasSsh = spawnSync('ssh', ['-V']).error === undefined;
const hasDocker = spawnSync('docker', ['--version']).error === undefined;

/** What ssh makes of a config file for HOST (`ssh -G`: the options it would use, lower-cased, nothing contacted). */
function sshSees(config: string, host: string): string {
  const file = join(box.dir, `ssh-config-${host}`);
  writeFileSync(file, `${config}\n`);
  const run = spawnSync('ssh', ['-G', '-F', file, host], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);
  return run.stdout;
}

describe('codex-auth remote ssh-config', () => {
  it('prints Host, RemoteForward from the remote upstream path to the restricted socket, and StreamLocalBindUnlink, as ssh reads them', async (t) => {
    const run = await cli(box, ['remote', 'ssh-config', 'devbox']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const remote = `/run/user/${uid}/codexd/upstream.sock`;
    const lines = run.stdout.split('\n').filter((line) => !line.trimStart().startsWith('#') && line.trim());
    assert.deepEqual(lines, ['Host devbox', `  RemoteForward ${remote} ${restrictedSocket(box)}`, '  StreamLocalBindUnlink yes']);
    assert.match(run.stdout, new RegExp(`mkdir -m 700 /run/user/${uid}/codexd`), 'says how to make the folder sshd will not');
    assert.match(run.stdout, /sshd_config needs "StreamLocalBindUnlink yes"/);
    if (!hasSsh) return t.skip('ssh is not installed (Debian package openssh-client)');
    const seen = sshSees(run.stdout, 'devbox');
    assert.match(seen, new RegExp(`^remoteforward ${remote} ${restrictedSocket(box)}$`, 'm'));
    assert.match(seen, /^streamlocalbindunlink yes$/m);
  });

  it('takes --remote-uid, and --socket or CODEXD_RESTRICTED_SOCKET for the local side', async () => {
    const other = join(box.dir, 'run', 'elsewhere', 'codexd.sock');
    const bySocket = await cli(box, ['remote', 'ssh-config', 'devbox', '--remote-uid', '1234', '--socket', other]);
    assert.equal(bySocket.code, 0, bySocket.stderr);
    assert.match(bySocket.stdout, new RegExp(`^  RemoteForward /run/user/1234/codexd/upstream.sock ${join(box.dir, 'run', 'elsewhere', 'codexd.restricted.sock')}$`, 'm'));
    assert.match(bySocket.stdout, /for uid 1234 \(--remote-uid\)/);
    const bySetting = await cli(box, ['remote', 'ssh-config', 'devbox'], { env: { CODEXD_RESTRICTED_SOCKET: '/srv/r.sock' } });
    assert.match(bySetting.stdout, /^ {2}RemoteForward \S+ \/srv\/r\.sock$/m);
  });

  it('refuses what it cannot print, in one line', async () => {
    const cases: Array<[string[], NodeJS.ProcessEnv, number, RegExp]> = [
      [['remote', 'ssh-config'], {}, 2, /^codex-auth: usage: codex-auth remote ssh-config HOST \[--remote-uid UID\] \| remote container$/],
      [['remote', 'ssh-config', 'a', 'b'], {}, 2, /^codex-auth: usage: /],
      [['remote', 'ssh-config', 'devbox', '--remote-uid', 'me'], {}, 2, /^codex-auth: --remote-uid must be a number, got "me"$/],
      [['remote', 'ssh-config', 'dev box'], {}, 2, /^codex-auth: HOST must be one ssh_config host name or pattern, got "dev box"$/],
      [['remote', 'container', '--remote-uid', '5'], {}, 2, /^codex-auth: --remote-uid does not apply to `codex-auth remote container`/],
      [['remote'], {}, 2, /^codex-auth: usage: /],
      [['remote', 'container'], { CODEXD_RESTRICTED_SOCKET: 'off' }, 1, /^codex-auth: the restricted socket is off \(CODEXD_RESTRICTED_SOCKET=off\); unset it, and restart codexd, to share your login$/],
    ];
    for (const [args, env, code, says] of cases) {
      const run = await cli(box, args, { env });
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.split('\n').length, 2, `one line: ${run.stderr}`);
      assert.match(run.stderr.trimEnd(), says);
    }
  });
});

describe('codex-auth --help', () => {
  it('lists both remote commands and --remote-uid', async () => {
    const run = await cli(box, ['--help']);
    assert.equal(run.code, 0);
    assert.match(run.stdout, /^ {2}remote ssh-config HOST {4}print the ~\/\.ssh\/config lines/m);
    assert.match(run.stdout, /^ {2}remote container {10}print the docker run and devcontainer\.json lines/m);
    assert.match(run.stdout, /^ {2}--remote-uid UID {5}remote ssh-config: your uid on HOST/m);
  });
});

describe('codex-auth remote container', () => {
  it('prints a docker run line and a devcontainer.json snippet that mount the restricted socket into a private folder', async (t) => {
    const run = await cli(box, ['remote', 'container']);
    assert.equal(run.code, 0, run.stderr);
    const gid = process.getgid!();
    const docker = run.stdout.slice(run.stdout.indexOf('\ndocker run') + 1, run.stdout.indexOf('IMAGE') + 'IMAGE'.length);
    assert.equal(
      docker,
      `docker run --user ${uid}:${gid} --tmpfs /run/codexd:mode=0700,uid=${uid},gid=${gid} \\\n  -v ${restrictedSocket(box)}:/run/codexd/upstream.sock \\\n  -e CODEXD_UPSTREAM=/run/codexd/upstream.sock \\\n  IMAGE`,
    );
    const devcontainer = JSON.parse(run.stdout.slice(run.stdout.lastIndexOf('\n{') + 1)) as unknown;
    assert.deepEqual(devcontainer, {
      runArgs: ['--tmpfs', `/run/codexd:mode=0700,uid=${uid},gid=${gid}`],
      mounts: [{ type: 'bind', source: restrictedSocket(box), target: '/run/codexd/upstream.sock' }],
      containerEnv: { CODEXD_UPSTREAM: '/run/codexd/upstream.sock' },
    });
    if (!hasDocker) return t.skip('docker is not installed');
    // docker's own flag parser takes the line; what fails after it is only the missing daemon or image.
    const parsed = spawnSync('sh', ['-c', docker.replace('IMAGE', 'codexd-test-image:none')], { encoding: 'utf8', env: { PATH: process.env['PATH'], DOCKER_HOST: `unix://${join(box.dir, 'no-docker.sock')}` } });
    assert.doesNotMatch(parsed.stderr, /unknown (flag|shorthand)|invalid (argument|reference)|requires at least/i, parsed.stderr);
    assert.match(parsed.stderr, /Cannot connect to the Docker daemon|no-docker\.sock/);
  });
});
