// A real sshd on 127.0.0.1 and a throwaway second user as the "remote machine", for a follower at
// the end of a real `ssh -N -R remote.sock:local.sock` (issue 13). Root only. The traps of this
// kind of machine: /run/sshd may be missing; sshd refuses remote Unix-socket forwards unless TCP
// forwarding is allowed too; StreamLocalBindUnlink replaces the stale socket a dead link leaves;
// a new user's password is locked, which sshd accepts for key logins only with UsePAM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after } from 'node:test';
import { canConnect, fileSandbox, killAtEnd, waitFor, type Sandbox } from './helpers.js';

const SSHD = '/usr/sbin/sshd';

/** Why the ssh tests cannot run here, or null when they can. */
export function sshProblem(): string | null {
  if (process.getuid?.() !== 0) return 'needs root: it adds a throwaway user for the remote side and runs sshd';
  if (!existsSync(SSHD)) return `${SSHD} is missing: install openssh-server (test/system-deps.sh)`;
  for (const tool of ['ssh', 'ssh-keygen', 'useradd', 'userdel', 'setpriv']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is missing (test/system-deps.sh installs it)`;
  }
  return null;
}

function run(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (${result.status}): ${result.stderr}`);
  return result.stdout.trim();
}

export interface Remote {
  user: string;
  /** The user's sandbox: its HOME, CODEX_HOME and XDG folders; its CLIs run as the user. */
  box: Sandbox;
  /** Where the laptop's socket is forwarded to: the conventional $XDG_RUNTIME_DIR/codexd/upstream.sock. */
  upstreamSocket: string;
}

/**
 * A throwaway user owning a sandbox of its own, removed (with the sandbox) when the file ends;
 * `prepare` writes files into the sandbox before it is handed over to the user.
 */
export function remoteUser(env: NodeJS.ProcessEnv = {}, prepare: (box: Sandbox) => void = () => undefined): Remote {
  const box = fileSandbox(env);
  prepare(box);
  const user = `cxd${randomBytes(4).toString('hex')}`;
  const home = box.env['HOME']!;
  run('useradd', ['--no-create-home', '--home-dir', home, '--shell', '/bin/sh', '--user-group', user]);
  after(() => spawnSync('userdel', ['--force', user]));
  box.runAs = { uid: Number(run('id', ['-u', user])), gid: Number(run('id', ['-g', user])) };
  mkdirSync(join(home, '.ssh'), { recursive: true, mode: 0o700 });
  // sshd binds the forwarded socket here; the folder must exist first, 0700 as codexd makes it.
  mkdirSync(join(box.env['XDG_RUNTIME_DIR']!, 'codexd'), { mode: 0o700 });
  run('chown', ['-R', `${user}:${user}`, box.dir]);
  return { user, box, upstreamSocket: join(box.env['XDG_RUNTIME_DIR']!, 'codexd', 'upstream.sock') };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface Sshd {
  port: number;
  /** The client key the remote user accepts. */
  key: string;
}

/** sshd in the foreground on 127.0.0.1, with a throwaway host key, accepting a throwaway key for `remote`. */
export async function startSshd(remote: Remote): Promise<Sshd> {
  const dir = fileSandbox().dir;
  const hostKey = join(dir, 'host_ed25519');
  const key = join(dir, 'id_ed25519');
  for (const file of [hostKey, key]) run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  const authorizedKeys = join(remote.box.env['HOME']!, '.ssh', 'authorized_keys');
  writeFileSync(authorizedKeys, readFileSync(`${key}.pub`), { mode: 0o600 });
  run('chown', [`${remote.user}:${remote.user}`, authorizedKeys]);
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      'ListenAddress 127.0.0.1',
      `Port ${port}`,
      `HostKey ${hostKey}`,
      'PidFile none',
      'UsePAM yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      `AllowUsers ${remote.user}`,
      'AllowTcpForwarding yes',
      'AllowStreamLocalForwarding yes',
      'StreamLocalBindUnlink yes',
      '',
    ].join('\n'),
  );
  const sshd = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  killAtEnd(sshd);
  let log = '';
  sshd.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  await waitFor(() => {
    if (sshd.exitCode !== null) throw new Error(`sshd exited with ${sshd.exitCode}: ${log}`);
    return log.includes(`Server listening on 127.0.0.1 port ${port}`);
  }, `sshd to listen on port ${port}`, 10_000);
  return { port, key };
}

export interface Link {
  proc: ChildProcess;
  /** Ends the link the hard way (SIGKILL), as a dropped connection or a closed laptop would. */
  kill(): Promise<void>;
}

/** `ssh -N -R <remote upstream.sock>:<localSocket>` as the test's own user; resolves once the forwarded socket answers. */
export async function startLink(sshd: Sshd, remote: Remote, localSocket: string): Promise<Link> {
  const options = ['StrictHostKeyChecking=no', 'UserKnownHostsFile=/dev/null', 'ExitOnForwardFailure=yes', 'BatchMode=yes', 'LogLevel=ERROR'];
  const args = ['-N', ...options.flatMap((o) => ['-o', o]), '-i', sshd.key, '-p', String(sshd.port), '-R', `${remote.upstreamSocket}:${localSocket}`, `${remote.user}@127.0.0.1`];
  const proc = spawn('ssh', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  killAtEnd(proc);
  let stderr = '';
  proc.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  // A dead link's socket file stays behind, so the file alone proves nothing: it must answer.
  await waitFor(async () => {
    if (proc.exitCode !== null) throw new Error(`ssh exited with ${proc.exitCode}: ${stderr}`);
    return canConnect(remote.upstreamSocket);
  }, `ssh -R to forward ${remote.upstreamSocket}`, 15_000, 100);
  return {
    proc,
    kill: async () => {
      proc.kill('SIGKILL');
      await exited;
    },
  };
}
