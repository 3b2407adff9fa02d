// `npm run test:hardening`: runs every file of the hardening suite with `node --test`, one at a
// time, then the summary as a step of its own, whatever order the files ran in. The summary
// requires a report from every file, scans everything any of them captured (daemon logs and
// stderr, CLI output, JSON-RPC error messages, notifications, callback pages, `ps -eo args`
// listings) for every secret any of them used, and prints one line per category: cases run,
// faults survived, bytes fuzzed, secrets found. Exit status 1 when a file failed, a report is
// missing or a secret was found.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withoutCallers } from '../hermetic.js';
import { allSecrets, findSecrets, readReports } from './support.js';

/** The summary of the reports in `dir`; returns the problems found (none: the suite passed). */
function summarize(dir: string, files: string[]): string[] {
  const results = readReports(dir);
  const reported = new Set(results.map((r) => r.report.file));
  const problems = files.filter((file) => !reported.has(file)).map((file) => `no report from ${file} (did it end early?)`);
  const secrets = allSecrets(results);
  if (secrets.length <= 100) problems.push(`the scan has only ${secrets.length} secrets to look for`);
  const lines: string[] = [];
  const total = { cases: 0, faults: 0, bytes: 0, secrets: 0, scannedBytes: 0 };
  const width = Math.max(5, ...results.map((r) => r.report.category.length));
  for (const { report, captured } of results) {
    const found = findSecrets(captured, secrets);
    problems.push(...found.map((f) => `secret found: ${report.category}: ${f}`));
    total.cases += report.cases;
    total.faults += report.faults;
    total.bytes += report.bytes;
    total.secrets += found.length;
    total.scannedBytes += captured.reduce((sum, c) => sum + c.text.length, 0);
    lines.push(`${report.category.padEnd(width)}  cases run ${String(report.cases).padStart(6)}  faults survived ${String(report.faults).padStart(6)}  bytes fuzzed ${String(report.bytes).padStart(10)}  secrets found ${found.length}`);
    for (const reason of report.skipped) lines.push(`${''.padEnd(width)}  skipped: ${reason}`);
  }
  if (total.faults > total.cases) problems.push(`more faults survived (${total.faults}) than cases run (${total.cases})`);
  lines.push(`${'total'.padEnd(width)}  cases run ${String(total.cases).padStart(6)}  faults survived ${String(total.faults).padStart(6)}  bytes fuzzed ${String(total.bytes).padStart(10)}  secrets found ${total.secrets}`);
  lines.push(`secret scan: ${secrets.length} distinct secrets against ${(total.scannedBytes / 1e6).toFixed(1)} MB of logs, output, errors, notifications and ps listings`);
  const notes = results.flatMap((r) => r.report.notes).map((n) => `  ${n}\n`);
  process.stdout.write(`\ncodexd hardening summary\n${lines.join('\n')}\n\n${notes.length > 0 ? `notes:\n${notes.join('')}\n` : ''}`);
  return problems;
}

const here = dirname(fileURLToPath(import.meta.url));
const files = readdirSync(here)
  .filter((name) => name.endsWith('.test.js'))
  .sort();
// Private (mkdtemp makes it 0700): the reports hold the run's (fake) secrets.
const reports = mkdtempSync(join(tmpdir(), 'codexd-hardening-'));
/** What a file of the suite may leave in the system temp folder: nothing of its own making (sandboxes go with their tests). */
const strays = (): string[] => readdirSync('/tmp').filter((name) => /^cxd-stranger-/.test(name));
const straysBefore = new Set(strays());
let status: number;
try {
  const suite = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files.map((file) => join(here, file))], {
    stdio: 'inherit',
    env: { ...withoutCallers(process.env), CODEXD_HARDENING_REPORT: reports },
  });
  const problems = summarize(reports, files);
  problems.push(...strays().filter((name) => !straysBefore.has(name)).map((name) => `left behind in /tmp: ${name}`));
  for (const problem of problems) process.stderr.write(`hardening summary: ${problem}\n`);
  status = suite.status !== 0 ? (suite.status ?? 1) : problems.length > 0 ? 1 : 0;
} finally {
  rmSync(reports, { recursive: true, force: true });
}
process.exit(status);
