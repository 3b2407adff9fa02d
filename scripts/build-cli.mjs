// Bundles codex-auth into one file, written over tsc's dist/client/cli/main.js, so the `bin`
// that users run and the binary the tests spawn are the same file. One file starts much faster
// than ~25 ES modules (and vscode-jsonrpc's 15 CommonJS ones) resolved, read and linked one by
// one; see "Performance" in the README for the figures. Modules the entry imports dynamically (the
// client library with vscode-jsonrpc, the login flow) are in the file but run only when a
// command imports them; `codex-auth token` never does.
//
// Run after `tsc` (npm run build does both). What stays outside the bundle, loaded at run time
// from the tsc output or node_modules, is only what the hot path never needs:
//  - koffi, a native module (loaded lazily with createRequire in client/os.ts);
//  - `open`, imported only when a browser login opens the browser;
//  - ./service.js (`codex-auth service ...`) and ./logs.js (`codex-auth logs`, with pino-pretty),
//    each imported only by its command.
import { readFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outfile = join(root, 'dist', 'client', 'cli', 'main.js');
const BUNDLE_MARK = '// codex-auth: bundled by scripts/build-cli.mjs';

/**
 * Bundled code keeps the import.meta.url it has in the tsc output: in every client/ module,
 * `import.meta.url` becomes the URL of that module's own compiled file, so the paths it resolves
 * relative to itself (../daemon/main.js, ../../package.json, koffi) are the same as unbundled.
 */
const keepModuleUrls = {
  name: 'keep-module-urls',
  setup(b) {
    b.onLoad({ filter: /[\\/]client[\\/].*\.ts$/ }, async (args) => {
      let contents = await readFile(args.path, 'utf8');
      if (contents.includes('import.meta.url')) {
        const compiled = join(root, 'dist', relative(root, args.path)).replace(/\.ts$/, '.js');
        const fromBundle = relative(dirname(outfile), compiled).split(sep).join('/');
        contents = contents.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`);
      }
      return { contents, loader: 'ts' };
    });
  },
};

/**
 * vscode-jsonrpc requires node:crypto at load time for two functions the CLI never calls (random
 * pipe names, UUIDs); loading node:crypto costs ~2 ms of the start-up of every command that uses
 * the client library. Load it on first use instead.
 */
const lazyCrypto = {
  name: 'lazy-crypto',
  setup(b) {
    b.onResolve({ filter: /^(node:)?crypto$/ }, (args) =>
      /[\\/]node_modules[\\/]vscode-jsonrpc[\\/]/.test(args.importer) ? { path: 'crypto', namespace: 'lazy-crypto' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'lazy-crypto' }, () => ({
      contents: `let crypto;
const load = () => (crypto ??= require('node:crypto'));
module.exports = {
  randomBytes: (...args) => load().randomBytes(...args),
  randomUUID: (...args) => load().randomUUID(...args),
};`,
      loader: 'js',
    }));
  },
};

await build({
  entryPoints: [join(root, 'client', 'cli', 'main.ts')],
  outfile,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  external: ['koffi', 'open', './service.js', './logs.js'],
  // vscode-jsonrpc is CommonJS: inside an ES module bundle its require() calls need a real
  // require. (esbuild keeps the entry's #! line first, above this banner.)
  banner: { js: `${BUNDLE_MARK}\nimport { createRequire as __cr } from 'node:module';\nconst require = __cr(import.meta.url);` },
  plugins: [keepModuleUrls, lazyCrypto],
});
