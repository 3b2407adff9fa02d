// The daemon: does one run for this home, is it the CLI's version, is there only one; and the
// socket's folder and file, which every client checks before it sends anything.
import { lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isWindowsPipe, sameCodexHome } from '../../../shared/paths.js';
import { PROTOCOL_VERSION } from '../../../shared/protocol.js';
import { VERSION } from '../../../shared/version.js';
import { answered, environOf, type DoctorContext } from './context.js';
import { fail, ok, warning, type Check } from './report.js';

const RESTART = 'codex-auth daemon stop && codex-auth daemon start';

function daemonRunning(context: DoctorContext): Check {
  return {
    id: 'daemon.running',
    category: 'daemon',
    run() {
      const answer = answered(context);
      if (answer === null) {
        const reason = (context.answer as { unreachable: string }).unreachable;
        return warning('codexd is not running for this CODEX_HOME (doctor never starts it)', 'codex-auth daemon start (any other codex-auth command starts it too)', { socket: context.socket, why: reason });
      }
      const { init, daemon } = answer;
      const details = {
        pid: String(daemon?.pid ?? 'not told on this socket'),
        version: init.serverInfo.version,
        protocol: String(init.protocolVersion),
        socket: context.socket,
        'CODEX_HOME served': init.codexHome ?? 'not told on this socket',
        'started by': { autostart: 'a client (autostart)', systemd: 'systemd (socket activation)', user: 'hand' }[init.startedBy ?? 'user'] + (init.startedBy ? '' : ' or an older codexd'),
      };
      if (init.codexHome !== undefined && !sameCodexHome(init.codexHome, context.codexHome)) {
        return fail(`the codexd on this socket serves another CODEX_HOME (${init.codexHome}, yours is ${context.codexHome})`, `set CODEX_HOME=${init.codexHome}, or drop --socket and CODEXD_SOCKET to reach the daemon for your home`, details);
      }
      if (init.protocolVersion !== PROTOCOL_VERSION || init.serverInfo.version !== VERSION) {
        const status = init.protocolVersion !== PROTOCOL_VERSION ? fail : warning;
        return status(`codexd ${init.serverInfo.version} (protocol ${init.protocolVersion}) runs, but this codex-auth is ${VERSION} (protocol ${PROTOCOL_VERSION})`, RESTART, details);
      }
      return ok(`codexd ${init.serverInfo.version} runs${daemon ? ` (pid ${daemon.pid})` : ''}`, details);
    },
  };
}

interface DaemonProcess {
  pid: number;
  home: string;
}

/** Our own codexd processes and the CODEX_HOME each serves (its --codex-home, else its CODEX_HOME, else ~/.codex). */
export function daemonProcesses(uid = process.getuid?.()): DaemonProcess[] {
  const found: DaemonProcess[] = [];
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return found;
  }
  for (const pid of pids) {
    try {
      if (lstatSync(`/proc/${pid}`).uid !== uid || Number(pid) === process.pid) continue;
      const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      if (!argv.slice(0, 3).some((arg) => /(^|\/)codexd(\.cjs)?$/.test(arg))) continue;
      const flag = argv.indexOf('--codex-home');
      const env = environOf(Number(pid)) ?? {};
      const home = flag > 0 && argv[flag + 1] ? argv[flag + 1]! : env['CODEX_HOME'] || resolve(env['HOME'] ?? '/', '.codex');
      found.push({ pid: Number(pid), home });
    } catch {
      // Gone meanwhile, or not ours.
    }
  }
  return found;
}

function daemonInstances(context: DoctorContext): Check {
  return {
    id: 'daemon.instances',
    category: 'daemon',
    run() {
      if (process.platform !== 'linux') return ok('not inspected on this platform');
      const mine = daemonProcesses().filter((p) => sameCodexHome(p.home, context.codexHome));
      const pids = mine.map((p) => String(p.pid));
      if (mine.length <= 1) return ok(mine.length === 0 ? 'no codexd process for this CODEX_HOME' : `one codexd for this CODEX_HOME (pid ${pids[0]})`);
      const keep = answered(context)?.daemon?.pid;
      const others = mine.filter((p) => p.pid !== keep).map((p) => p.pid);
      return fail(`${mine.length} codexd processes serve this CODEX_HOME (two refreshers spend each other's refresh tokens)`, `kill ${others.join(' ')}${keep ? ` (keeps pid ${keep}, the one on ${context.socket})` : ''}`, { pids });
    },
  };
}

function socketFolder(context: DoctorContext): Check {
  return {
    id: 'socket.folder',
    category: 'socket',
    run() {
      if (isWindowsPipe(context.socket)) return ok('a named pipe: no folder', { socket: context.socket });
      const folder = dirname(context.socket);
      const uid = process.getuid?.();
      const details = { folder, socket: context.socket };
      let dir;
      try {
        dir = lstatSync(folder);
      } catch {
        return ok('the socket folder does not exist yet (codexd creates it, mode 0700)', details);
      }
      if (dir.isSymbolicLink() || !dir.isDirectory()) return fail(`${folder} is not a folder`, `rm ${folder} (codexd creates the folder itself)`, details);
      if (dir.uid !== uid) return fail(`${folder} belongs to uid ${dir.uid}, not to you`, `use a socket in a folder of your own (--socket or CODEXD_SOCKET), or ask its owner to remove ${folder}`, details);
      if ((dir.mode & 0o077) !== 0) return fail(`${folder} is open to others (mode ${(dir.mode & 0o777).toString(8)}): every client refuses it`, `chmod 700 ${folder}`, details);
      let file;
      try {
        file = lstatSync(context.socket);
      } catch {
        return ok('the socket folder is yours and private; no socket yet', details);
      }
      if (!file.isSocket()) return fail(`${context.socket} is not a socket`, `rm ${context.socket}`, details);
      if ('silent' in context.answer && context.answer.silent) {
        const pids = daemonProcesses().filter((p) => sameCodexHome(p.home, context.codexHome)).map((p) => p.pid);
        const end = pids.length > 0 ? `kill ${pids.join(' ')}` : `end the process that holds it (ss -xlp | grep ${context.socket})`;
        return fail(`something accepts connections on ${context.socket} but does not answer (a stopped or hung codexd?)`, `${end}, then codex-auth daemon start`, details);
      }
      if (answered(context) === null) return warning(`a stale socket file: nothing answers on ${context.socket}`, 'codex-auth daemon start (it replaces the stale socket)', details);
      return ok(`the socket folder is yours and private (0700), and codexd answers on ${realpathSync(context.socket)}`, details);
    },
  };
}

export function daemonChecks(context: DoctorContext): Check[] {
  return [daemonRunning(context), daemonInstances(context), socketFolder(context)];
}
