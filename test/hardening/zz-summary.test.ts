// The last file of the suite (it sorts last): gathers what every other file reported, scans
// everything any of them captured (daemon logs and stderr, CLI output, JSON-RPC error messages,
// notifications, callback pages, `ps -eo args` listings) for every secret any of them used, and
// prints one line per category: cases run, faults survived, bytes fuzzed, secrets found.
import assert from 'node:assert/strict';
import { readdirSync, rmSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { after, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { allSecrets, findSecrets, readReports, REPORT_DIR } from './support.js';

const here = fileURLToPath(import.meta.url);
after(() => rmSync(REPORT_DIR, { recursive: true, force: true })); // it holds the (fake) secrets of the run

it('every category reported, and no secret appears in anything captured during the whole suite', (t) => {
  const results = readReports();
  const expected = readdirSync(dirname(here)).filter((name) => name.endsWith('.test.js') && name !== basename(here)).sort();
  const reported = results.map((r) => r.report.file).sort();
  assert.deepEqual(reported, expected, `a report from every file of the suite (in ${REPORT_DIR}); run the whole suite with npm run test:hardening`);

  const secrets = allSecrets(results);
  assert.ok(secrets.length > 100, `the scan has secrets to look for: ${secrets.length}`);
  const lines: string[] = [];
  const leaks: string[] = [];
  const total = { cases: 0, faults: 0, bytes: 0, secrets: 0, scannedBytes: 0 };
  const width = Math.max(...results.map((r) => r.report.category.length));
  for (const { report, captured } of results) {
    const found = findSecrets(captured, secrets);
    leaks.push(...found.map((f) => `${report.category}: ${f}`));
    const scanned = captured.reduce((sum, c) => sum + c.text.length, 0);
    total.cases += report.cases;
    total.faults += report.faults;
    total.bytes += report.bytes;
    total.secrets += found.length;
    total.scannedBytes += scanned;
    lines.push(`${report.category.padEnd(width)}  cases run ${String(report.cases).padStart(6)}  faults survived ${String(report.faults).padStart(6)}  bytes fuzzed ${String(report.bytes).padStart(10)}  secrets found ${found.length}`);
    for (const reason of report.skipped) lines.push(`${''.padEnd(width)}  skipped: ${reason}`);
  }
  lines.push(`${'total'.padEnd(width)}  cases run ${String(total.cases).padStart(6)}  faults survived ${String(total.faults).padStart(6)}  bytes fuzzed ${String(total.bytes).padStart(10)}  secrets found ${total.secrets}`);
  lines.push(`secret scan: ${secrets.length} distinct secrets against ${(total.scannedBytes / 1e6).toFixed(1)} MB of logs, output, errors, notifications and ps listings`);
  const notes = results.flatMap((r) => r.report.notes);
  process.stdout.write(`\ncodexd hardening summary\n${lines.join('\n')}\n\nnotes:\n${notes.map((n) => `  ${n}`).join('\n')}\n\n`);
  for (const line of lines) t.diagnostic(line);

  assert.deepEqual(leaks, [], 'secrets found in what the suite captured');
  assert.ok(total.faults <= total.cases);
});
