// A real Secret Service for the keyring tests: a private D-Bus session bus and gnome-keyring on it,
// unlocked with a throwaway password, all from Debian's packages (test/system-deps.sh). The bus
// knows no service files but one: so nothing is ever auto-started behind the test's back (a second,
// locked gnome-keyring), and the one it knows is an unlock prompter that never answers, which is
// what a locked keyring on a desktop nobody looks at does (openai/codex#41031).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { waitFor } from './helpers.js';

const TOOLS = ['dbus-daemon', 'gnome-keyring-daemon', 'secret-tool', 'busctl'];

/** Why the keyring tests cannot run here, or null. */
export const secretServiceMissing: string | null = (() => {
  const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  return missing.length === 0 ? null : `${missing.join(', ')} missing: run test/system-deps.sh (dbus, gnome-keyring, libsecret-tools, systemd)`;
})();

export interface SecretService {
  /** What a process needs to reach it. */
  env: { DBUS_SESSION_BUS_ADDRESS: string };
  /** The stored value of Codex's entry for `account`, read with secret-tool; null when none. */
  lookup(account: string): string | null;
  /** Every entry of `service`: its account and secret (secret-tool search). */
  search(service: string): Array<{ account: string; secret: string }>;
  /** Stores `value` under Codex's entry for `account`, as another program would. */
  store(account: string, value: string): void;
  /** Locks the default collection: the next access waits for an unlock prompt that never answers. */
  lock(): void;
  stop(): Promise<void>;
}

export async function startSecretService(): Promise<SecretService> {
  const dir = mkdtempSync('/tmp/cxd-ss-');
  const services = join(dir, 'services');
  mkdirSync(services);
  // The prompter gnome-keyring asks for is started but never claims its name: the prompt stays open.
  writeFileSync(join(services, 'prompter.service'), '[D-BUS Service]\nName=org.gnome.keyring.SystemPrompter\nExec=/bin/sleep 60\n');
  const config = join(dir, 'bus.conf');
  writeFileSync(
    config,
    `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN" "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=${dir}</listen>
  <auth>EXTERNAL</auth>
  <servicedir>${services}</servicedir>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
`,
  );
  const bus = spawn('dbus-daemon', [`--config-file=${config}`, '--nofork', '--print-address=1'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const address = await new Promise<string>((resolve, reject) => {
    createInterface({ input: bus.stdout! }).once('line', resolve);
    bus.once('exit', (code) => reject(new Error(`dbus-daemon exited with ${code}`)));
  });
  const env = { DBUS_SESSION_BUS_ADDRESS: address };
  const home = join(dir, 'home');
  mkdirSync(home);
  const keyring: ChildProcess = spawn('gnome-keyring-daemon', ['--foreground', '--unlock', '--components=secrets'], {
    env: { PATH: process.env['PATH'], HOME: home, XDG_RUNTIME_DIR: dir, ...env },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  keyring.stdin!.end('throwaway-test-password');
  const busctl = (...args: string[]): string => {
    const result = spawnSync('busctl', [`--address=${address}`, ...args], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`busctl ${args.join(' ')}: ${result.stderr.trim()}`);
    return result.stdout;
  };
  // Asking before gnome-keyring owns its name would fail (or, on a stock bus, start a second one).
  const owned = (): boolean => {
    try {
      return busctl('call', 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'NameHasOwner', 's', 'org.freedesktop.secrets').includes('true');
    } catch {
      return false;
    }
  };
  await waitFor(owned, 'gnome-keyring to own org.freedesktop.secrets', 10_000);
  const secretTool = (args: string[], input?: string): { status: number | null; stdout: string; stderr: string } =>
    spawnSync('secret-tool', args, { encoding: 'utf8', input, env: { PATH: process.env['PATH'], ...env } });
  return {
    env,
    lookup: (account) => {
      const found = secretTool(['lookup', 'service', 'Codex Auth', 'username', account]);
      return found.status === 0 ? found.stdout : null;
    },
    search: (service) => {
      const found = secretTool(['search', '--all', '--unlock', 'service', service]);
      // stdout has `secret = …`, stderr the attributes, one block per item, in the same order.
      const secrets = [...found.stdout.matchAll(/^secret = (.*)$/gm)].map((m) => m[1]!);
      const accounts = [...found.stderr.matchAll(/^attribute\.username = (.*)$/gm)].map((m) => m[1]!);
      return accounts.map((name, i) => ({ account: name, secret: secrets[i]! }));
    },
    store: (account, value) => {
      // The attributes Codex's keyring crate writes, so that it and codexd find the item.
      const stored = secretTool(['store', '--label=codexd test', 'service', 'Codex Auth', 'username', account, 'target', 'default', 'application', 'rust-keyring'], value);
      if (stored.status !== 0) throw new Error('secret-tool store failed');
    },
    lock: () => void busctl('call', 'org.freedesktop.secrets', '/org/freedesktop/secrets', 'org.freedesktop.Secret.Service', 'Lock', 'ao', '1', '/org/freedesktop/secrets/collection/login'),
    stop: async () => {
      for (const child of [keyring, bus]) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGKILL');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
