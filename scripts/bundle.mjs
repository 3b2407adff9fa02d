// Bundles the two programs into CommonJS files next to tsc's output. codexd becomes
// dist/daemon/codexd-main.cjs (daemon/main.ts and what it imports, pino included), which the
// `bin`, dist/daemon/codexd.cjs (daemon/bin.ts), runs from V8's code cache (shared/code-cache.ts);
// so the daemon starts without the ES module loader and without resolving its ~25 modules one by
// one; what it loads only on demand stays outside (conf, undici, open, pino-pretty, koffi). Its
// keyring helper becomes dist/daemon/keyring-helper.cjs.
// codex-auth becomes four files in dist/client/cli/:
//  - codex-auth.cjs, the `bin` (client/cli/bin.ts), which runs main.cjs from V8's code cache
//    (shared/code-cache.ts);
//  - main.cjs (client/cli/main.ts), every command's entry point: the framing and the connection,
//    enough for a bare `codex-auth token`, which is on the hot path of every tool that runs
//    `Authorization: Bearer $(codex-auth token)`;
//  - command-line.cjs (client/cli/command-line.ts), which main.cjs requires for any other command
//    line: the command table, the command line, `--help`, and `token` with options;
//  - handlers.cjs, the full CLI (client/cli/handlers.ts): the handlers of every other command,
//    which command-line.cjs requires when one of them runs.
// One file starts much faster than ~25 ES modules (and vscode-jsonrpc's 15 CommonJS ones)
// resolved, read and linked one by one, and CommonJS skips the ES module loader that Node starts
// for the first ES module; see docs/performance.md for the figures. Modules handlers.ts
// imports dynamically (the client library, the login flow) are in
// handlers.cjs but run only when a command imports them.
//
// Run after `tsc` (npm run build does both). What stays outside the bundles, loaded at run time
// from the tsc output or node_modules, is only what the hot path never needs:
//  - koffi, a native module (loaded on first use by shared/koffi.ts);
//  - `open`, imported only when a browser login opens the browser;
//  - ./service.js (`codex-auth service ...`), ./logs.js (`codex-auth logs`, with pino-pretty) and
//    ./config.js (`codex-auth config ...`, with conf), each imported only by its command.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = join(root, 'dist', 'client', 'cli');

/**
 * Bundled code keeps the import.meta.url and import.meta.dirname it has in the tsc output: in
 * every client/ module, they become the URL and the folder of that module's own compiled file, so
 * the paths it resolves relative to itself (../daemon/codexd.cjs, ../../package.json, koffi) are
 * the same as unbundled.
 */
const keepModuleUrls = {
  name: 'keep-module-urls',
  setup(b) {
    b.onLoad({ filter: /[\\/](client|shared)[\\/].*\.ts$/ }, async (args) => {
      let contents = await readFile(args.path, 'utf8');
      const compiled = join(root, 'dist', relative(root, args.path)).replace(/\.ts$/, '.js');
      const fromBundle = (path) => JSON.stringify(relative(outdir, path).split(sep).join('/'));
      if (contents.includes('import.meta.url')) {
        contents = contents.replaceAll('import.meta.url', `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${fromBundle(compiled)})).href`);
      }
      // A folder, without a URL to parse: what `codex-auth token` reads relative to itself uses it.
      contents = contents.replaceAll('import.meta.dirname', `require('node:path').join(__dirname, ${fromBundle(dirname(compiled))})`);
      return { contents, loader: 'ts' };
    });
  },
};

/**
 * Built-in modules outside Node's start-up snapshot, which cost start-up time to compile and that
 * nothing needs before it does real work: node:module (its ES module loader; only for koffi),
 * node:os (only without XDG folders) and node:timers/promises (only to wait for a lock or a
 * daemon starting); in the daemon also what only a request, a login, a write, the keyring helper
 * or pino's transports (which codexd never uses) need.
 * Each becomes a stand-in that loads the real module when it is first used. Imported by an ES
 * module (our code), the stand-in is an ES module: its functions load the real module on their
 * first call and pass the call on, its objects (os.constants) on their first property read, and
 * nothing runs until then (a CommonJS stand-in's getters are copied name by name when an ES
 * module imports it); importing a string or a number from it fails the build. Required by a
 * CommonJS module (a dependency), it is a CommonJS module with a getter for each name, and a
 * function that forwards its calls when the module is one (node:assert).
 */
const lazyBuiltins = (names) => ({
  name: 'lazy-builtins',
  setup(b) {
    b.onResolve({ filter: new RegExp(`^(node:)?(${names.join('|')})$`) }, (args) => {
      const name = args.path.replace(/^node:/, '');
      // The stand-in's own require is of the real module.
      if (args.namespace.startsWith('lazy-builtin')) return { path: `node:${name}`, external: true };
      return { path: name, namespace: args.kind === 'require-call' ? 'lazy-builtin-cjs' : 'lazy-builtin' };
    });
    const standIn = (path, lines) => ({ contents: ['let real;', `const load = () => (real ??= require('node:${path}'));`, ...lines].join('\n'), loader: 'js' });
    const forward = 'return new.target ? Reflect.construct(load(), [...arguments]) : Reflect.apply(load(), this, arguments);';
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin' }, (args) => {
      const real = createRequire(import.meta.url)(`node:${args.path}`);
      const names = Object.keys(real).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name));
      return standIn(args.path, [
        'const onRead = (of) => new Proxy({}, { get: (_, key) => of()[key], has: (_, key) => key in of() });',
        // Pure: a bundle that does not import one does not build it.
        typeof real === 'function' ? `export default function () { ${forward} }` : 'export default /* @__PURE__ */ onRead(load);',
        ...names.filter((name) => typeof real[name] === 'function').map((name) => `export function ${name}() { return load().${name}.apply(this, arguments); }`),
        ...names.filter((name) => typeof real[name] === 'object' && real[name] !== null).map((name) => `export const ${name} = /* @__PURE__ */ onRead(() => load().${name});`),
      ]);
    });
    b.onLoad({ filter: /.*/, namespace: 'lazy-builtin-cjs' }, (args) => {
      const real = createRequire(import.meta.url)(`node:${args.path}`);
      return standIn(args.path, [
        ...(typeof real === 'function' ? [`module.exports = function () { ${forward} };`] : []),
        `for (const name of ${JSON.stringify(Object.keys(real))}) {`,
        '  Object.defineProperty(module.exports, name, { enumerable: true, get: () => load()[name] });',
        '}',
      ]);
    });
  },
});

/**
 * pino's transports (a worker thread per transport, through thread-stream) are never used by
 * codexd, which gives pino its own destination (daemon/runtime/log.ts); but pino loads
 * thread-stream, and with it node:worker_threads, and its transport(), and with it node:module
 * (about 8% of the instructions before the daemon listens), when it loads. In the daemon's
 * bundle, thread-stream and transport() become stand-ins that load the real module on their
 * first `new` or call, and pino's one read of `isMainThread` (when it builds a SonicBoom
 * destination) reads it then, not when pino loads.
 */
const PINO_TOOLS_MAIN_THREAD = "const { isMainThread } = require('worker_threads')";
/** The two pino modules that require its transport(). */
const PINO_TRANSPORT_IMPORTERS = /[\\/]node_modules[\\/]pino[\\/](pino|lib[\\/]tools)\.js$/;
const pinoWithoutTransports = {
  name: 'pino-without-transports',
  setup(b) {
    b.onResolve({ filter: /^thread-stream$/ }, (args) => ({ path: createRequire(join(args.resolveDir, 'x')).resolve(args.path), namespace: 'lazy-package' }));
    b.onResolve({ filter: /^\.(\/lib)?\/transport$/ }, (args) =>
      PINO_TRANSPORT_IMPORTERS.test(args.importer) ? { path: createRequire(args.importer).resolve(args.path), namespace: 'lazy-package' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-package' }, (args) => ({
      contents: `let real;
const load = () => (real ??= require(${JSON.stringify(args.path)}));
module.exports = function () { return new.target ? Reflect.construct(load(), [...arguments]) : Reflect.apply(load(), this, arguments); };`,
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

/**
 * In a bundle whose import()s are require()s, `open` (an ES module only) comes back from require()
 * as its namespace, which esbuild's import() stand-in would hand out as the default export: the
 * daemon's bundle gets it as a CommonJS module whose exports are that default.
 */
const openAsCommonJs = {
  name: 'open-as-commonjs',
  setup(b) {
    b.onResolve({ filter: /^open$/ }, (args) => (args.namespace === 'open-as-commonjs' ? { path: 'open', external: true } : { path: 'open', namespace: 'open-as-commonjs' }));
    b.onLoad({ filter: /.*/, namespace: 'open-as-commonjs' }, () => ({ contents: "module.exports = require('open').default;", loader: 'js' }));
  },
};

const CLIENT_LAZY_BUILTINS = ['module', 'os', 'timers/promises'];
const DAEMON_LAZY_BUILTINS = [...CLIENT_LAZY_BUILTINS, 'crypto', 'fs/promises', 'child_process', 'worker_threads', 'assert', 'http'];

/** `import('./command-line.js')` and `import('./handlers.js')` become requires of their own bundles. */
const fullCli = {
  name: 'full-cli',
  setup(b) {
    b.onResolve({ filter: /^\.\/(command-line|handlers)\.js$/ }, (args) => ({ path: args.path.replace(/\.js$/, '.cjs'), external: true }));
  },
};

/** Builds a bundle that runs from V8's code cache, ended with the line that names its build (shared/code-cache.ts). */
async function buildCodeCached(options) {
  await build(options);
  const contents = await readFile(options.outfile, 'latin1');
  await writeFile(options.outfile, `${contents}// build ${createHash('sha256').update(contents).digest('hex')}\n`, 'latin1');
}

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

/**
 * Options for one of codex-auth's bundles: client/cli/ENTRY.ts into dist/client/cli/OUTFILE.
 * `loadsBundles`: its import()s of the next bundle (./command-line.js, ./handlers.js) become
 * require()s of it (fullCli), without the ES module loader.
 */
function cliBundle(entry, outfile, loadsBundles = false) {
  return {
    ...common,
    entryPoints: [join(root, 'client', 'cli', `${entry}.ts`)],
    outfile: join(outdir, outfile),
    // In the bin, esbuild keeps the entry's #! line first, above this banner.
    banner: { js: `// codex-auth: client/cli/${entry}.ts, bundled by scripts/bundle.mjs` },
    ...(loadsBundles ? { supported: { 'dynamic-import': false } } : {}),
    plugins: [keepModuleUrls, lazyBuiltins(CLIENT_LAZY_BUILTINS), ...(loadsBundles ? [fullCli] : [])],
  };
}

await Promise.all([
  build(cliBundle('handlers', 'handlers.cjs')),
  build(cliBundle('command-line', 'command-line.cjs', true)),
  buildCodeCached(cliBundle('main', 'main.cjs', true)),
  build(cliBundle('bin', 'codex-auth.cjs')),
  buildCodeCached({
    ...common,
    entryPoints: [join(root, 'daemon', 'main.ts')],
    outfile: join(root, 'dist', 'daemon', 'codexd-main.cjs'),
    banner: { js: `// codexd: daemon/main.ts, bundled by scripts/bundle.mjs\n${daemonModuleUrl}` },
    // dist/daemon and dist/shared are as deep: import.meta.url of the bundle resolves what each module resolved.
    define: { 'import.meta.url': 'codexdModuleUrl', 'import.meta.dirname': '__dirname' },
    // import() becomes require(): the bundle runs as a vm.Script (shared/code-cache.ts), which has
    // no module loader of its own for import() (Node 20 would warn that the main context's is experimental).
    supported: { 'dynamic-import': false },
    // Readable names in the stack traces codexd logs for an internal error.
    minify: false,
    minifyWhitespace: true,
    minifySyntax: true,
    external: ['koffi', 'open', 'undici', 'pino-pretty', 'conf'],
    plugins: [lazyBuiltins(DAEMON_LAZY_BUILTINS), pinoWithoutTransports, openAsCommonJs],
  }),
  // The `codexd` bin, which runs codexd-main.cjs from its code cache; node:v8 only once the daemon serves.
  build({
    ...common,
    entryPoints: [join(root, 'daemon', 'bin.ts')],
    outfile: join(root, 'dist', 'daemon', 'codexd.cjs'),
    // esbuild keeps the entry's #! line first, above this banner.
    banner: { js: '// codexd: daemon/bin.ts, bundled by scripts/bundle.mjs' },
    define: { 'import.meta.dirname': '__dirname' },
    plugins: [lazyBuiltins([...CLIENT_LAZY_BUILTINS, 'v8'])],
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
