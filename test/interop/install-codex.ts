// `npm run test:interop`, step one: the real Codex CLI in .cache/codex-0.169.0, installed from the
// npm registry only when it is not there yet. The tests call ensureCodex() too, so a single test
// file can also be run on its own.
import { codexBin, ensureCodex } from './codex-cli.js';

try {
  const version = ensureCodex();
  process.stdout.write(`interop: using ${version} at ${codexBin}\n`);
} catch (error) {
  process.stderr.write(`interop: ${(error as Error).message}\n`);
  process.exit(1);
}
