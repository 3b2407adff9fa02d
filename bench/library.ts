// What an editor's extension host pays to load the client library: `import('codexd/client')` in
// a fresh process, against `node -e 0`, in alternating rounds. vscode-jsonrpc's node entry alone
// is measured beside it, as what the library cost more when it used that library for its
// connection (docs/performance.md).
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { timeProcess } from './coldstart.js';
import { figure, root, type Figure } from './lib.js';

export interface LibraryOptions {
  env: NodeJS.ProcessEnv;
  warmup: number;
  runs: number;
  progress(label: string): void;
}

export async function libraryBench(options: LibraryOptions): Promise<Figure[]> {
  const library = pathToFileURL(join(root, 'dist', 'client', 'index.js')).href;
  const jsonrpc = pathToFileURL(createRequire(join(root, 'package.json')).resolve('vscode-jsonrpc/node')).href;
  const argv: Record<'library' | 'bare' | 'jsonrpc', string[]> = {
    library: ['-e', `import(${JSON.stringify(library)})`],
    bare: ['-e', '0'],
    jsonrpc: ['-e', `import(${JSON.stringify(jsonrpc)})`],
  };
  const times = { library: [] as number[], bare: [] as number[], jsonrpc: [] as number[] };
  const kinds = Object.keys(times) as Array<keyof typeof times>;
  for (let r = 0; r < options.warmup + options.runs; r++) {
    options.progress(`library import: ${r < options.warmup ? 'warm-up' : `round ${r - options.warmup + 1}/${options.runs}`}`);
    for (let k = 0; k < kinds.length; k++) {
      const kind = kinds[(r + k) % kinds.length]!;
      const { ms } = await timeProcess(argv[kind], options.env);
      if (r >= options.warmup) times[kind].push(ms);
    }
  }
  const group = 'client library import (a fresh process that imports codexd/client)';
  return [
    figure(group, 'import codexd/client', 'ms', times.library),
    figure(group, '`node -e 0`', 'ms', times.bare),
    figure(group, 'ratio import / node -e 0', '×', times.library.map((ms, i) => ms / times.bare[i]!), undefined, 'median of per-round ratios'),
    figure(group, 'reference: import vscode-jsonrpc/node alone', 'ms', times.jsonrpc, undefined, 'what the library no longer loads'),
  ];
}
