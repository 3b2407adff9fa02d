// `codex-auth remote ssh-config HOST` and `codex-auth remote container`: the lines that hand this
// machine's restricted socket to a remote machine or a container (docs/remote.md).
// They only print; nothing is changed or contacted.
import { resolveRestrictedSocketPath, resolveSocketPath } from '../../shared/paths.js';
import type { Flags } from './flags.js';
import { UsageError } from './usage.js';

/** Where a follower looks for the forwarded socket: `upstream.sock` in its own socket folder. */
const UPSTREAM = 'codexd/upstream.sock';
/** Where the container recipe mounts it. */
const CONTAINER_DIR = '/run/codexd';
const CONTAINER_UPSTREAM = `${CONTAINER_DIR}/upstream.sock`;

/** The restricted socket this machine's codexd serves; a failure (exit 1) when it is off. */
function localRestrictedSocket(flags: Flags): string {
  const path = resolveRestrictedSocketPath(resolveSocketPath(flags.socket));
  if (path === null) throw new Error('the restricted socket is off (CODEXD_RESTRICTED_SOCKET=off); unset it, and restart codexd, to share your login');
  return path;
}

/** A path as one ssh_config argument. */
function sshWord(path: string): string {
  return /[\s"'\\]/.test(path) ? `"${path.replace(/(["\\])/g, '\\$1')}"` : path;
}

/** A path as one word for sh. */
function shellWord(path: string): string {
  return /^[\w/.:@%+=,-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`;
}

function sshConfig(host: string, remoteUid: { uid: string; given: boolean }, local: string): string {
  const runtime = `/run/user/${remoteUid.uid}`;
  const whose = remoteUid.given
    ? `for uid ${remoteUid.uid} (--remote-uid)`
    : `for uid ${remoteUid.uid}, your uid here; if yours there differs (ssh ${host} id -u), pass --remote-uid`;
  return `# codexd: lend ${host} this machine's login, never its refresh token (codex-auth remote ssh-config).
# Add to ~/.ssh/config. While you are connected, codexd on ${host} (its follower) keeps Codex there
# logged in with access tokens from here; anyone there who can reach the socket can get them.
Host ${host}
  # ${runtime} is $XDG_RUNTIME_DIR on ${host} ${whose}.
  # sshd creates no folders: ${runtime}/codexd must exist on ${host} when you connect. codexd makes it when
  # it runs there; otherwise, once after each reboot there: mkdir -m 700 ${runtime}/codexd
  RemoteForward ${runtime}/${UPSTREAM} ${sshWord(local)}
  # Replaces the socket a dropped connection left behind. For a RemoteForward it is ${host}'s sshd that
  # decides: its sshd_config needs "StreamLocalBindUnlink yes" too, or remove the old socket there.
  StreamLocalBindUnlink yes`;
}

function container(local: string): string {
  const uid = process.getuid?.() ?? 0;
  const gid = process.getgid?.() ?? 0;
  const tmpfs = `${CONTAINER_DIR}:mode=0700,uid=${uid},gid=${gid}`;
  const devcontainer = {
    runArgs: ['--tmpfs', tmpfs],
    mounts: [{ type: 'bind', source: local, target: CONTAINER_UPSTREAM }],
    containerEnv: { CODEXD_UPSTREAM: CONTAINER_UPSTREAM },
  };
  return `# codexd: lend a container this machine's login, never its refresh token (codex-auth remote container).
# The socket file is mounted, not its folder (which holds codexd's main socket), into a private folder
# (tmpfs, 0700) that belongs to your uid; codex-auth and codexd in the container check that, and codexd
# here answers only your uid (or root). CODEXD_UPSTREAM makes the container's codexd a follower.
# A mounted socket file stays the one codexd had when the container started: after codexd restarts,
# restart the container (under systemd, codexd-restricted.socket keeps the same socket across restarts).
#
# docker run (or podman run):
docker run --user ${uid}:${gid} --tmpfs ${tmpfs} \\
  -v ${shellWord(`${local}:${CONTAINER_UPSTREAM}`)} \\
  -e CODEXD_UPSTREAM=${CONTAINER_UPSTREAM} \\
  IMAGE
#
# devcontainer.json (its user gets your uid: updateRemoteUserUID, on by default on Linux):
${JSON.stringify(devcontainer, null, 2)}`;
}

export function sshConfigCommand(host: string, flags: Flags): number {
  const uid = flags.remoteUid ?? String(process.getuid?.());
  if (!/^\d{1,10}$/.test(uid)) throw new UsageError(`--remote-uid must be a number, got ${JSON.stringify(uid)}`);
  if (!/^[\w.@%:*?![\]-]+$/.test(host)) throw new UsageError(`HOST must be one ssh_config host name or pattern, got ${JSON.stringify(host)}`);
  process.stdout.write(`${sshConfig(host, { uid, given: flags.remoteUid !== undefined }, localRestrictedSocket(flags))}\n`);
  return 0;
}

export function containerCommand(flags: Flags): number {
  process.stdout.write(`${container(localRestrictedSocket(flags))}\n`);
  return 0;
}
