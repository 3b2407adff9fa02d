// `codex-auth doctor`'s report, in the shape of Codex's own (`codex doctor --json`, 0.171), so a
// tool can read both: {schemaVersion, generatedAt, overallStatus, codexdVersion, checks: {<id>:
// {id, category, status, summary, details, remediation, durationMs}}}. Statuses are spelled as
// Codex spells them: ok, warning, fail.
import { jsonText, printable } from '../format.js';

export type CheckStatus = 'ok' | 'warning' | 'fail';
/** Codex's details: a label, then one value or several. */
export type Details = Record<string, string | string[]>;

export interface CheckResult {
  id: string;
  category: string;
  status: CheckStatus;
  summary: string;
  details: Details;
  /** For anything not ok: one command to run or one file to fix; null when ok. */
  remediation: string | null;
  durationMs: number;
}

export interface DoctorReport {
  schemaVersion: 1;
  /** As Codex writes it: whole seconds since the Unix epoch, then "s since unix epoch". */
  generatedAt: string;
  overallStatus: CheckStatus;
  codexdVersion: string;
  checks: Record<string, CheckResult>;
}

/** What a check finds; the runner adds its id, category and duration. */
export type Finding = Pick<CheckResult, 'status' | 'summary'> & { details?: Details; remediation?: string | null };

export interface Check {
  id: string;
  category: string;
  /** Needs the network; skipped with --offline. */
  network?: boolean;
  run(): Promise<Finding> | Finding;
}

export const ok = (summary: string, details: Details = {}): Finding => ({ status: 'ok', summary, details });
export const warning = (summary: string, remediation: string, details: Details = {}): Finding => ({ status: 'warning', summary, remediation, details });
export const fail = (summary: string, remediation: string, details: Details = {}): Finding => ({ status: 'fail', summary, remediation, details });

const RANK: Record<CheckStatus, number> = { ok: 0, warning: 1, fail: 2 };

/** Runs the checks one after another (some read what the daemon says, and the order is the report's). A check that throws fails, with its message. */
export async function runChecks(checks: Check[], version: string, now: () => number = Date.now): Promise<DoctorReport> {
  const results: Record<string, CheckResult> = {};
  for (const check of checks) {
    const started = performance.now();
    let finding: Finding;
    try {
      finding = await check.run();
    } catch (error) {
      finding = fail(`the check itself failed: ${(error as Error)?.message ?? String(error)}`, 'Run codex-auth doctor again; if it fails the same way, report it with codex-auth doctor --json.');
    }
    results[check.id] = {
      id: check.id,
      category: check.category,
      status: finding.status,
      summary: finding.summary,
      details: finding.details ?? {},
      remediation: finding.status === 'ok' ? null : (finding.remediation ?? null),
      durationMs: Math.round(performance.now() - started),
    };
  }
  const overall = Object.values(results).reduce<CheckStatus>((worst, r) => (RANK[r.status] > RANK[worst] ? r.status : worst), 'ok');
  return { schemaVersion: 1, generatedAt: `${Math.floor(now() / 1000)}s since unix epoch`, overallStatus: overall, codexdVersion: version, checks: results };
}

const MARK: Record<CheckStatus, string> = { ok: '✓', warning: '⚠', fail: '✗' };

/** The report for a person: what is not ok first, with what to do, then every check with its details. */
export function renderReport(report: DoctorReport): string {
  const all = Object.values(report.checks);
  const width = Math.max(...all.map((c) => c.category.length));
  const line = (c: CheckResult) => `  ${MARK[c.status]} ${c.category.padEnd(width)} ${c.summary}`;
  const out = [`codex-auth doctor ${report.codexdVersion}: ${report.overallStatus}`];
  const notOk = all.filter((c) => c.status !== 'ok');
  if (notOk.length > 0) {
    out.push('', 'To do');
    for (const c of notOk.sort((a, b) => RANK[b.status] - RANK[a.status])) out.push(line(c), `      → ${c.remediation ?? 'see the details below'}`);
  }
  out.push('', 'Checks');
  for (const c of all) {
    out.push(line(c));
    const labels = Object.keys(c.details);
    const pad = Math.max(0, ...labels.map((l) => l.length));
    for (const label of labels) {
      const value = c.details[label]!;
      out.push(`      ${label.padEnd(pad)}  ${Array.isArray(value) ? value.join(', ') : value}`);
    }
  }
  return printable(out.join('\n'));
}

export function reportJson(report: DoctorReport): string {
  return jsonText(report);
}
