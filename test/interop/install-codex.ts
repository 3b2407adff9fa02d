// `npm run test:interop`, step one: the real Codex CLI, the pinned version and the latest one, in
// .cache/codex-<version>, installed from the npm registry only when not there yet. The tests call
// ensureCodex() too, so a single test file can also be run on its own.
import { CODEX_VERSIONS, codexBinOf, ensureCodex } from './codex-cli.js';

try {
  for (const version of CODEX_VERSIONS) {
    process.stdout.write(`interop: using ${ensureCodex(undefined, version)} at ${codexBinOf(version)}\n`);
  }
} catch (error) {
  process.stderr.write(`interop: ${(error as Error).message}\n`);
  process.exit(1);
}
