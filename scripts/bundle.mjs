// Bundles the two programs into CommonJS files next to tsc's output. codexd becomes
// dist/daemon/codexd.cjs (daemon/main.ts and what it imports, pino included),
// so the daemon starts without the ES module loader and without resolving its ~25 modules one by
// one; what it loads only on demand stays outside (conf, undici, open, pino-pretty, koffi). Its
// keyring helper becomes dist/daemon/keyring-helper.cjs.
// codex-auth becomes two files in dist/client/cli/:
//  - codex-auth.cjs, the `bin` (client/cli/bin.ts), every command's entry point: the command
//    table, the command line, `--help`, the framing and the connection; enough for
//    `codex-auth token`, which is on the hot path of every tool that runs
//    `Authorization: Bearer $(codex-auth token)`;
//  - handlers.cjs, the full CLI (client/cli/handlers.ts): the handlers of every other command,
//    which codex-auth.cjs requires when one of them runs.
// One file starts much faster than ~25 ES modules (and vscode-jsonrpc's 15 CommonJS ones)
// resolved, read and linked one by one, and CommonJS skips the ES module loader that Node starts
// for the first ES module; see docs/performance.md for the figures. Modules handlers.ts
// imports dynamically (the client library, the login flow) are in
// handlers.cjs but run only when a command imports them.
//
// Run after `tsc` (npm run build does both). What stays outside the bundles, loaded at run time
// from the tsc output or node_modules, is only what the hot path never needs:
//  - koffi, a native module (loaded lazily with createRequire in shared/os.ts);
//  - `open`, imported only when a browser login opens the browser;
//  - ./service.js (`codex-auth service ...`), ./logs.js (`codex-auth logs`, with pino-pretty) and
//    ./config.js (`codex-auth config ...`, with conf), each imported only by its command.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist', 'client', 'cli');

/**
 * Bundled code keeps the import.meta.url it has in the tsc output: in every client/ module,
 * `import.meta.url` becomes the URL of that module's own compiled file, so the paths it resolves
 * relative to itself (../daemon/codexd.cjs, ../../package.json, koffi) are the same as unbundled.
 */
const keepModuleUrls = {
  name: 'keep-module-urls',
  setup(b) {
    b.onLoad({ filter: /[\\/](client|shared)[\\/].*\.ts$/ }, async (args) => {
      let contents = await readFile(args.path, 'utf8');
      if (contents.includes('import.meta.url')) {
        const compiled = join(root, 'dist', relative(root, args.path)).replace(/\.ts$/, '.js');
        const fromBundle = relative(outdir, compiled).split(sep).join('/');
        contents = contents.replaceAll('import.meta.url', `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(fromBundle)})).href`);
      }
      return { contents, loader: 'ts' };
    });
  },
};

/**
 * Built-in modules outside Node's start-up snapshot, which cost start-up time to compile and that
 * nothing needs before it does real work: node:module (its ES module loader; only for koffi) and
 * node:os (only without XDG folders); in the daemon also what only a request, a login, a write,
 * the keyring helper or pino's transports (which codexd never uses) need.
 * Each becomes a stand-in whose properties load the real module on first use; a stand-in of a
 * module that is a function (node:assert) is a function that forwards its calls.
 */
const lazyBuiltins = (names) => ({
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(node:)?(${names.join('|')})$`) }, (args) => {
      const name = args.path.replace(/^node:/, '');
      // The stand-in's own require is of the real module.
      return args.namespace === 'lazy-builtin' ? { path: `node:${name}`, external: true } : { path: name, namespace: 'lazy-builtin' };
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const real = createRequire(import.meta.url)(`node:${args.path}`);
      const load = `const load = () => (real ??= require('node:${args.path}'));`;
      const standIn = typeof real === 'function'
        ? `module.exports = function (...args) { return new.target ? Reflect.construct(load(), args) : Reflect.apply(load(), this, args); };`
        : '';
      return {
        contents: `let real;
${load}
${standIn}
for (const name of ${JSON.stringify(Object.keys(real))}) {
  Object.defineProperty(module.exports, name, { enumerable: true, get: () => load()[name] });
}`,
        loader: 'js',
      };
    });
  },
});
/**
 * pino's transports (a worker thread per transport, through thread-stream) are never used by
 * codexd, which gives pino its own destination (daemon/runtime/log.ts); but pino loads
 * thread-stream, and with it node:worker_threads, when it loads. In the daemon's bundle,
 * thread-stream becomes a stand-in that loads it on the first `new`, and pino's one read of
 * `isMainThread` (when it builds a SonicBoom destination) reads it then, not when pino loads.
 */
const PINO_TOOLS_MAIN_THREAD = "const { isMainThread } = require('worker_threads')";
const pinoWithoutTransports = {
  name: 'pino-without-transports',
  setup(b) {
    b.onResolve({ filter: /^thread-stream$/ }, (args) => ({ path: createRequire(join(args.resolveDir, 'x')).resolve(args.path), namespace: 'lazy-package' }));
    b.onLoad({ filter: /.*/, namespace: 'lazy-package' }, (args) => ({
      contents: `let real;
module.exports = function (...args) { return Reflect.construct(real ??= require(${JSON.stringify(args.path)}), args); };`,
      loader: 'js',
      resolveDir: dirname(args.path),
    }));
    b.onLoad({ filter: /[\\/]node_modules[\\/]pino[\\/]lib[\\/]tools\.js$/ }, async (args) => {
      const contents = await readFile(args.path, 'utf8');
      // A pino whose tools.js reads it otherwise stops the build, rather than loading worker_threads unseen.
      if (!contents.includes(PINO_TOOLS_MAIN_THREAD) || contents.split('isMainThread').length !== 3) throw new Error(`${args.path}: isMainThread is not read as pino 10.4 reads it; update the pino-without-transports plugin`);
      return { contents: contents.replace(PINO_TOOLS_MAIN_THREAD, "const workerThreads = require('worker_threads')").replace(/\bisMainThread\b/, 'workerThreads.isMainThread'), loader: 'js' };
    });
  },
};

const CLIENT_LAZY_BUILTINS = ['module', 'os'];
const DAEMON_LAZY_BUILTINS = [...CLIENT_LAZY_BUILTINS, 'crypto', 'fs/promises', 'timers/promises', 'child_process', 'worker_threads', 'assert', 'http'];

/** In the bin, `import('./handlers.js')` becomes a require of the full CLI's bundle. */
const fullCli = {
  name: 'full-cli',
  setup(b) {
    b.onResolve({ filter: /^\.\/handlers\.js$/ }, () => ({ path: './handlers.cjs', external: true }));
  },
};

const daemonModuleUrl = "const codexdModuleUrl = require('node:url').pathToFileURL(__filename).href;";

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  external: ['koffi', 'open', './service.js', './logs.js', './config.js'],
};

await Promise.all([
  build({
    ...common,
    entryPoints: [join(root, 'client', 'cli', 'handlers.ts')],
    outfile: join(outdir, 'handlers.cjs'),
    banner: { js: '// codex-auth: client/cli/handlers.ts, bundled by scripts/bundle.mjs' },
    plugins: [keepModuleUrls, lazyBuiltins(CLIENT_LAZY_BUILTINS)],
  }),
  build({
    ...common,
    entryPoints: [join(root, 'client', 'cli', 'bin.ts')],
    outfile: join(outdir, 'codex-auth.cjs'),
    // esbuild keeps the entry's #! line first, above this banner.
    banner: { js: '// codex-auth: client/cli/bin.ts, bundled by scripts/bundle.mjs' },
    // So that import('./handlers.js') becomes require('./handlers.cjs'), without the ES module loader.
    supported: { 'dynamic-import': false },
    plugins: [keepModuleUrls, lazyBuiltins(CLIENT_LAZY_BUILTINS), fullCli],
  }),
  build({
    ...common,
    entryPoints: [join(root, 'daemon', 'main.ts')],
    outfile: join(root, 'dist', 'daemon', 'codexd.cjs'),
    banner: { js: `// codexd: daemon/main.ts, bundled by scripts/bundle.mjs\n${daemonModuleUrl}` },
    // dist/daemon and dist/shared are as deep: import.meta.url of the bundle resolves what each module resolved.
    define: { 'import.meta.url': 'codexdModuleUrl' },
    // Readable names in the stack traces codexd logs for an internal error.
    minify: false,
    minifyWhitespace: true,
    minifySyntax: true,
    external: ['koffi', 'open', 'undici', 'pino-pretty', 'conf'],
    plugins: [lazyBuiltins(DAEMON_LAZY_BUILTINS), pinoWithoutTransports],
  }),
  // The keyring helper, a child process codexd starts only in keyring and auto mode; the native
  // @napi-rs/keyring loads from node_modules.
  build({
    ...common,
    entryPoints: [join(root, 'daemon', 'keyring', 'helper.ts')],
    outfile: join(root, 'dist', 'daemon', 'keyring-helper.cjs'),
    banner: { js: '// codexd keyring helper: daemon/keyring/helper.ts, bundled by scripts/bundle.mjs' },
    external: ['@napi-rs/keyring'],
  }),
]);
