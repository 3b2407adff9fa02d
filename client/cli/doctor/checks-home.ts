// CODEX_HOME and the login: auth.json itself (read here, so it is checked with no daemon too),
// Codex's lock files, the credential store, the active account, the others, and a follower's link.
import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { when } from '../format.js';
import { answered, codexConfig, type DoctorContext } from './context.js';
import { fail, ok, warning, type Check, type Details } from './report.js';

const MAX_AUTH_BYTES = 1024 * 1024;
const LOGIN = 'codex-auth login';

/** auth.json's text, read as codexd reads it (a regular file, non-blocking, capped), or why not. */
function readAuthFile(path: string): { text: string } | { missing: true } | { problem: string; remediation: string } {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { missing: true };
    if (code === 'ELOOP') return { problem: `${path} is a symbolic link; Codex and codexd replace it with a file`, remediation: `rm ${path} && ${LOGIN}` };
    return { problem: `${path} cannot be opened (${code})`, remediation: `chmod 600 ${path}` };
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) return { problem: `${path} is not a regular file`, remediation: `rm ${path} && ${LOGIN}` };
    if (stat.uid !== process.getuid?.()) return { problem: `${path} belongs to uid ${stat.uid}, not to you`, remediation: `sudo chown $(id -u) ${path}` };
    if ((stat.mode & 0o077) !== 0) return { problem: `${path} is readable by others (mode ${(stat.mode & 0o777).toString(8)}): it holds your tokens`, remediation: `chmod 600 ${path}` };
    if (stat.size > MAX_AUTH_BYTES) return { problem: `${path} is ${stat.size} bytes, too large to be a login`, remediation: `codex-auth logout (it moves the file aside), then ${LOGIN}` };
    const buffer = Buffer.alloc(stat.size);
    readSync(fd, buffer, 0, stat.size, 0);
    return { text: buffer.toString('utf8') };
  } finally {
    closeSync(fd);
  }
}

/** Holders of flock locks on a file, from /proc/locks (Linux): the pids. */
function lockHolders(path: string): number[] {
  let inode: number;
  try {
    inode = lstatSync(path).ino;
  } catch {
    return [];
  }
  try {
    return readFileSync('/proc/locks', 'utf8')
      .split('\n')
      .map((line) => line.split(/\s+/))
      .filter((f) => f[1] === 'FLOCK' && Number(f[5]?.split(':')[2]) === inode)
      .map((f) => Number(f[4]));
  } catch {
    return [];
  }
}

function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 3).join(' ') || `pid ${pid}`;
  } catch {
    return `pid ${pid}`;
  }
}

function authFile(context: DoctorContext): Check {
  return {
    id: 'home.auth_file',
    category: 'home',
    async run() {
      const path = join(context.codexHome, 'auth.json');
      const details: Details = { CODEX_HOME: context.codexHome, 'auth file': path };
      try {
        const home = lstatSync(context.codexHome);
        if (!home.isDirectory()) return fail(`CODEX_HOME ${context.codexHome} is not a folder`, `rm ${context.codexHome} (Codex and codexd create it)`, details);
      } catch {
        return ok('CODEX_HOME does not exist yet (the first login creates it)', details);
      }
      const read = readAuthFile(path);
      const held = ['auth.lock', 'auth.json.lock'].flatMap((name) => lockHolders(join(context.codexHome, name)).map((pid) => `${name}: ${commandOf(pid)} (pid ${pid})`));
      if (held.length > 0) details['locks held'] = held;
      if ('problem' in read) return fail(read.problem, read.remediation, details);
      const { store } = await codexConfig(context.codexHome);
      if ('missing' in read) return ok(store === 'file' ? 'no auth.json: not logged in here' : `no auth.json (config.toml keeps the login in the ${store === 'auto' ? 'keyring, with auth.json as fallback' : 'OS keyring'})`, details);
      try {
        const parsed: unknown = JSON.parse(read.text);
        if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not a JSON object');
      } catch (error) {
        return fail(`auth.json is not valid JSON (${(error as Error).message}); Codex cannot use it`, `codex-auth logout (it moves the file aside as auth.json.corrupt-<time>), then ${LOGIN}`, details);
      }
      if (held.length > 0) return warning('auth.json is fine, but its lock is held: a write waits until it is released', `if it stays held, end the process that holds it: ${held[0]}`, details);
      return ok('auth.json parses, is yours and private (0600)', details);
    },
  };
}

function credentialStore(context: DoctorContext): Check {
  return {
    id: 'home.credential_store',
    category: 'keyring',
    async run() {
      const config = await codexConfig(context.codexHome);
      const details: Details = { 'config.toml': join(context.codexHome, 'config.toml'), 'cli_auth_credentials_store': config.store };
      if (config.problem) return fail(config.problem, `fix ${join(context.codexHome, 'config.toml')}`, details);
      const store = answered(context)?.status?.credentialStore;
      if (store === undefined) {
        return config.store === 'file' ? ok('the login lives in auth.json', details) : warning(`the login lives in the OS keyring (${config.store}); whether it answers is known only to a running codexd`, 'codex-auth daemon start, then codex-auth doctor again', details);
      }
      details['in use'] = store.using;
      if (store.keyringEntry) details['keyring entry'] = `${store.keyringEntry.service} / ${store.keyringEntry.account}`;
      if (store.problem) return fail(store.problem, store.problem.includes('DBUS_SESSION_BUS_ADDRESS') ? RESTART_WITH_BUS : `fix the keyring or set cli_auth_credentials_store = "file" in ${join(context.codexHome, 'config.toml')}`, details);
      return ok(store.using === 'keyring' ? 'the login lives in the OS keyring, which answers' : 'the login lives in auth.json', details);
    },
  };
}

const RESTART_WITH_BUS = 'codex-auth daemon stop, then run any codex-auth command from a shell that has DBUS_SESSION_BUS_ADDRESS (the daemon keeps the environment of the client that started it)';

function credentials(context: DoctorContext): Check {
  return {
    id: 'auth.credentials',
    category: 'auth',
    run() {
      const s = answered(context)?.status ?? null;
      if (s === null) return warning('not checked: codexd is not running or did not say', 'codex-auth daemon start', {});
      const now = Date.now();
      const details: Details = {};
      if (s.account) details['account'] = s.account.type === 'chatgpt' ? `${s.account.email ?? 'ChatGPT'} (${s.account.planType ?? 'unknown plan'})` : 'API key';
      if (s.accessTokenExpiresAt) details['token expires'] = when(s.accessTokenExpiresAt, now);
      if (s.lastRefresh) details['last refresh'] = when(s.lastRefresh, now);
      if (s.nextRefreshAt) details['next refresh'] = when(s.nextRefreshAt, now);
      if (s.lastRefreshError) details['last refresh error'] = s.lastRefreshError;
      const remote = s.upstream !== null ? ' on the upstream machine (the laptop)' : '';
      if (s.account === null) return fail('not logged in', `${LOGIN}${remote}`, details);
      if (s.state === 'reauthRequired') return fail(`a new sign-in is needed: ${s.reauthReason ?? 'the login cannot be refreshed'}`, `${LOGIN}${remote}`, details);
      if (s.lastRefreshError) return warning(`the last refresh failed: ${s.lastRefreshError}`, 'codex-auth token --force-refresh (it retries now and says why it fails)', details);
      return ok(`logged in${details['account'] ? ` as ${details['account']}` : ''}`, details);
    },
  };
}

function accounts(context: DoctorContext): Check {
  return {
    id: 'auth.accounts',
    category: 'accounts',
    run() {
      const list = answered(context)?.status?.accounts;
      if (list === undefined) return ok('not checked: codexd is not running or did not say');
      const stale = list.filter((a) => a.state === 'reauthRequired' && !a.active);
      const details: Details = { accounts: list.map((a) => `${a.name}${a.active ? ' (active)' : ''}: ${a.state}`) };
      if (stale.length === 0) return ok(`${list.length} account${list.length === 1 ? '' : 's'}, none needs a new sign-in`, details);
      return warning(`${stale.map((a) => a.name).join(', ')} need${stale.length === 1 ? 's' : ''} a new sign-in`, `codex-auth login --name ${stale[0]!.name}`, details);
    },
  };
}

function follower(context: DoctorContext): Check {
  return {
    id: 'follower.upstream',
    category: 'follower',
    run() {
      const upstream = answered(context)?.status?.upstream ?? null;
      if (upstream === null) return ok('not a follower: the login lives here');
      const s = answered(context)!.status!;
      const details: Details = { upstream: upstream.path, link: upstream.state };
      if (s.accessTokenExpiresAt) details['last token expires'] = when(s.accessTokenExpiresAt, Date.now());
      if (upstream.state === 'connected') return ok('a follower, linked to its upstream codexd', details);
      const expired = s.accessTokenExpiresAt !== null && Date.parse(s.accessTokenExpiresAt) <= Date.now();
      const advice = `check the link to the laptop: on the laptop, codex-auth remote ssh-config <this host> prints the ssh lines; then reconnect with ssh`;
      return (expired ? fail : warning)(`the link to the upstream codexd is down${expired ? ' and the last token has expired' : '; the last token serves until it expires'}`, advice, details);
    },
  };
}

export function homeChecks(context: DoctorContext): Check[] {
  return [authFile(context), credentialStore(context), credentials(context), accounts(context), follower(context)];
}
