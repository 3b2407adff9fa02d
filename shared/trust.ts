// What every client checks before it sends anything, as ssh and tmux do. With XDG_RUNTIME_DIR
// unset the socket lives in <tmpdir>/codexd-<uid>, a name another local user can take first, and
// whoever listens there would receive API keys and hand out tokens of their own. So the socket's
// folder must be a real directory (not a symlink) that is ours and closed to group and others,
// and the path must be a socket that we or root bound, which makes the process listening on it
// run as us or root (docs/security.md, "Security model" says why this is SO_PEERCRED's answer). Then
// the daemon must serve the CODEX_HOME, issuer and client id this client would use
// (docs/cli.md, "Which daemon a client talks to").
import { lstatSync, mkdirSync, readFileSync, type Stats } from 'node:fs';
import { dirname } from 'node:path';
import { SocketRefusedError } from './errors.js';
import { isWindowsPipe, maxSocketPathBytes, sameCodexHome, type ExpectedDaemon } from './paths.js';
import type { InitializeResult } from './protocol.js';

/** "alice (uid 1001)", with the name when /etc/passwd has one. */
function owner(uid: number): string {
  try {
    const entry = readFileSync('/etc/passwd', 'utf8')
      .split('\n')
      .find((line) => line.split(':')[2] === String(uid));
    if (entry) return `${entry.split(':')[0]} (uid ${uid})`;
  } catch {
    // No passwd file: the number alone.
  }
  return `uid ${uid}`;
}

function refuse(socketPath: string, why: string): never {
  throw new SocketRefusedError(`refusing to use the socket ${socketPath}: ${why}; nothing was sent`);
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SocketRefusedError(`cannot check the socket path ${path}: ${(error as Error).message}`);
  }
}

/** What a file is, for messages: "a symlink", "a directory", "a regular file", or "not a socket". */
export function fileKind(stat: Stats): string {
  if (stat.isSymbolicLink()) return 'a symlink';
  if (stat.isDirectory()) return 'a directory';
  if (stat.isFile()) return 'a regular file';
  return 'not a socket';
}

/**
 * Checks the socket path and its folder before anything connects. Returns false when the folder
 * does not exist yet (nothing can listen there; autostart creates it).
 */
export function checkSocketPath(socketPath: string): boolean {
  if (isWindowsPipe(socketPath)) return true;
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > maxSocketPathBytes()) {
    throw new SocketRefusedError(`socket path is ${bytes} bytes, longer than this platform's limit of ${maxSocketPathBytes()}: ${socketPath} (choose a shorter one with --socket or CODEXD_SOCKET)`);
  }
  const dir = dirname(socketPath);
  const folder = lstatOrNull(dir);
  if (!folder) {
    // codexd creates the socket's own folder, never its missing parents: nothing can ever listen here.
    if (!lstatOrNull(dirname(dir))) throw new SocketRefusedError(`no codexd can listen on ${socketPath}: the folder ${dirname(dir)} does not exist`);
    return false;
  }
  const uid = process.getuid?.();
  if (!folder.isDirectory()) refuse(socketPath, `its folder ${dir} is ${fileKind(folder)}, owned by ${owner(folder.uid)}, not a directory`);
  if (uid !== undefined && folder.uid !== uid) {
    refuse(socketPath, `its folder ${dir} is owned by ${owner(folder.uid)}, not by you (${owner(uid)}); choose another socket with --socket or CODEXD_SOCKET`);
  }
  if ((folder.mode & 0o077) !== 0) {
    const mode = (folder.mode & 0o7777).toString(8).padStart(4, '0');
    refuse(socketPath, `its folder ${dir} (owner ${owner(folder.uid)}) has mode ${mode}, open to other users; use a folder only you can enter (mode 0700)`);
  }
  const file = lstatOrNull(socketPath);
  if (file && !file.isSocket()) refuse(socketPath, `it is ${fileKind(file)} (owner ${owner(file.uid)}); choose another --socket`);
  // Only we and root can bind or move a socket into this folder, and a socket's file belongs to
  // whoever bound it: its owner is the user the listener runs as. Another user's socket here was
  // moved in by root, or bound before the folder was closed.
  if (file && uid !== undefined && file.uid !== uid && file.uid !== 0) {
    refuse(socketPath, `it was bound by ${owner(file.uid)}, so the process listening on it runs as ${owner(file.uid)}, not as you (${owner(uid)})`);
  }
  return true;
}

/**
 * Creates the socket's own folder 0700, in the mkdir call itself (a chmod afterwards would leave
 * a window), and never a missing parent above it: a mistyped --socket must not grow a tree.
 */
export function createSocketFolder(socketPath: string): void {
  if (isWindowsPipe(socketPath)) return;
  const dir = dirname(socketPath);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    throw new Error(code === 'ENOENT' ? `cannot create the socket folder ${dir}: its parent folder does not exist` : `cannot create the socket folder ${dir}: ${(error as Error).message}`);
  }
}

/** Throws unless the daemon serves each value this client sets (an `initialize` result). */
export function checkServes(socketPath: string, served: InitializeResult, expected: ExpectedDaemon): void {
  if (expected.codexHome && served.codexHome && !sameCodexHome(expected.codexHome, served.codexHome)) {
    throw new SocketRefusedError(
      `the codexd on ${socketPath} serves CODEX_HOME ${served.codexHome}, but yours is ${expected.codexHome}; set CODEX_HOME=${served.codexHome} to use it, or drop --socket and CODEXD_SOCKET to reach the daemon for your home`,
    );
  }
  for (const [key, name, variable] of [['issuer', 'issuer', 'CODEXD_ISSUER'], ['clientId', 'client id', 'CODEXD_CLIENT_ID']] as const) {
    const theirs = served[key];
    const mine = expected[key];
    if (mine && theirs && mine !== theirs) {
      throw new SocketRefusedError(
        `the codexd on ${socketPath} uses the ${name} ${theirs}, but yours is ${mine}; set ${variable}=${theirs} to use it, or stop it (\`codex-auth daemon stop\`) so that it restarts with yours`,
      );
    }
  }
}
