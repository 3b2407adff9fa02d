// `npm run bench`: builds first when any source is newer than the build (or the CLI bundle is
// missing), then runs dist/bench/main.js with the same arguments. Build output goes to stderr,
// so `npm run -s bench -- --json` prints nothing but JSON on stdout.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
/** The `codex-auth` bin: the bundle `npm run build` writes last. */
const bundle = join(root, JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).bin['codex-auth']);
const entry = join(root, 'dist', 'bench', 'main.js');

function newest(path) {
  const stat = statSync(path);
  if (!stat.isDirectory()) return /\.(ts|mjs|json)$/.test(path) ? stat.mtimeMs : 0;
  return Math.max(0, ...readdirSync(path).map((name) => newest(join(path, name))));
}

function stale() {
  if (!existsSync(entry) || !existsSync(bundle)) return true;
  const sources = ['client', 'daemon', 'test', 'bench', 'scripts', 'package.json', 'tsconfig.json'].map((p) => join(root, p)).filter(existsSync);
  return Math.max(...sources.map(newest)) > statSync(bundle).mtimeMs;
}

if (stale()) {
  process.stderr.write('bench: building first (npm run build)\n');
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 2, 2] });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
const run = spawnSync(process.execPath, [entry, ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(run.status ?? 1);
