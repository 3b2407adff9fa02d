// This machine: the ports a browser login listens on, whether a browser can open here, the
// systemd units, and the Codex CLI on PATH.
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { systemdSocketUnitPath } from '../../autostart.js';
import { answered, codexConfig, type DoctorContext } from './context.js';
import { ok, warning, type Check, type Details } from './report.js';

/** The Codex versions the interop suites run against. */
export const TESTED_CODEX_VERSIONS = ['0.169.0', '0.171.0'];
const CODEX_PORTS = [1455, 1457];

function loginPorts(context: DoctorContext): number[] {
  const setting = context.env['CODEXD_LOGIN_PORT'] ?? context.settings['LOGIN_PORT'];
  const port = Number(setting);
  if (setting === undefined || setting === '' || !Number.isInteger(port)) return CODEX_PORTS;
  return port === 0 ? [] : [port];
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** Who listens on a TCP port, from /proc/net/tcp{,6} and the socket inodes in /proc/<pid>/fd (our processes only). */
function portHolder(port: number): string {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const f = line.trim().split(/\s+/);
        if (f[3] === '0A' && parseInt(f[1]?.split(':')[1] ?? '', 16) === port) inodes.add(f[9]!);
      }
    } catch {
      // Not Linux.
    }
  }
  for (const pid of safeList('/proc').filter((n) => /^\d+$/.test(n))) {
    for (const fd of safeList(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m && inodes.has(m[1]!)) {
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
          return `${argv.slice(0, 3).join(' ')} (pid ${pid})`;
        }
      } catch {
        // Gone, or not ours.
      }
    }
  }
  return inodes.size > 0 ? "another user's process" : 'an unknown process';
}

function safeList(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

function ports(context: DoctorContext): Check {
  return {
    id: 'login.ports',
    category: 'login',
    async run() {
      const wanted = loginPorts(context);
      if (wanted.length === 0) return ok('browser logins use any free port (LOGIN_PORT 0)');
      const pending = answered(context)?.status?.login ?? null;
      const busy: string[] = [];
      for (const port of wanted) if (!(await portFree(port))) busy.push(`${port}: ${portHolder(port)}`);
      const details: Details = { ports: wanted.map(String) };
      if (busy.length > 0) details['in use'] = busy;
      if (busy.length === 0) return ok(`the browser login's callback port${wanted.length > 1 ? 's are' : ' is'} free (${wanted.join(', ')})`, details);
      if (pending !== null && busy.every((b) => b.includes('codexd'))) return ok('a login is pending, and codexd holds its callback port', details);
      const allBusy = busy.length === wanted.length;
      return warning(
        allBusy ? `every callback port a browser login would use is taken (${busy.join('; ')})` : `port ${busy[0]} is taken; a browser login falls back to the next one`,
        `stop ${busy[0]!.replace(/^\d+: /, '')}, or sign in with codex-auth login --device-auth`,
        details,
      );
    },
  };
}

function browser(context: DoctorContext): Check {
  return {
    id: 'login.browser',
    category: 'login',
    run() {
      const env = context.env;
      const display = env['DISPLAY'] || env['WAYLAND_DISPLAY'];
      const ssh = env['SSH_CONNECTION'] || env['SSH_TTY'];
      const details: Details = { display: display ? String(display) : 'none', ssh: ssh ? 'yes' : 'no' };
      if (process.platform === 'darwin' || process.platform === 'win32') return ok('codex-auth login opens your browser', details);
      if (display && !ssh) return ok('codex-auth login opens a browser on this display', details);
      if (ssh) return ok('an SSH session: codex-auth login prints a URL to open on your own machine (with ssh -L 1455:localhost:1455), or use --device-auth', details);
      return ok('no display: sign in with codex-auth login --device-auth, or open the printed URL elsewhere', details);
    },
  };
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 5_000, encoding: 'utf8' }, (error, stdout) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout: String(stdout) }));
  });
}

function service(context: DoctorContext): Check {
  return {
    id: 'service.systemd',
    category: 'service',
    async run() {
      if (process.platform !== 'linux') return ok('not inspected on this platform');
      const unit = systemdSocketUnitPath(context.env);
      const details: Details = { 'socket unit': unit };
      if (!existsSync(unit)) return ok('no systemd units: clients start codexd on demand', details);
      const systemctl = context.env['CODEXD_SYSTEMCTL'] || 'systemctl';
      const [enabled, active] = await Promise.all([run(systemctl, ['--user', 'is-enabled', 'codexd.socket'], context.env), run(systemctl, ['--user', 'is-active', 'codexd.socket'], context.env)]);
      details['enabled'] = enabled.stdout.trim() || `unknown (exit ${enabled.code})`;
      details['active'] = active.stdout.trim() || `unknown (exit ${active.code})`;
      const activation = answered(context)?.daemon?.activation;
      if (activation) details['running codexd started by'] = activation === 'systemd' ? 'systemd' : 'autostart or by hand';
      if (enabled.code !== 0 || active.code !== 0) return warning('the systemd units are installed but codexd.socket is not enabled and active', 'systemctl --user enable --now codexd.socket (or codex-auth service install again)', details);
      return ok('codexd.socket is enabled and active (socket activation)', details);
    },
  };
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | null {
  for (const dir of (env['PATH'] ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not here.
    }
  }
  return null;
}

function codex(context: DoctorContext): Check {
  return {
    id: 'codex.cli',
    category: 'codex',
    async run() {
      const path = onPath(process.platform === 'win32' ? 'codex.cmd' : 'codex', context.env);
      if (path === null) return ok('no codex on PATH (codexd serves other tools too)');
      const { code, stdout } = await run(path, ['--version'], context.env);
      const version = /(\d+\.\d+\.\d+)/.exec(stdout)?.[1] ?? null;
      const config = await codexConfig(context.codexHome);
      const details: Details = { codex: path, version: version ?? `unknown (exit ${code})`, 'tested with': TESTED_CODEX_VERSIONS, CODEX_HOME: context.codexHome, 'login kept in': config.store };
      const served = answered(context)?.init.codexHome;
      if (served !== undefined) details['codexd serves'] = served;
      if (version === null) return warning(`${path} --version did not print a version`, `reinstall Codex: npm install -g @openai/codex@${TESTED_CODEX_VERSIONS.at(-1)}`, details);
      if (!TESTED_CODEX_VERSIONS.includes(version)) return warning(`Codex ${version} is on PATH; codexd was tested with ${TESTED_CODEX_VERSIONS.join(' and ')}`, `if logins misbehave, use a tested version: npm install -g @openai/codex@${TESTED_CODEX_VERSIONS.at(-1)}`, details);
      return ok(`Codex ${version}, tested with codexd, uses this CODEX_HOME (${config.store === 'file' ? 'auth.json' : `login in the ${config.store} store`})`, details);
    },
  };
}

export function systemChecks(context: DoctorContext): Check[] {
  return [ports(context), browser(context), service(context), codex(context)];
}
