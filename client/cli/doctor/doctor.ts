// `codex-auth doctor [--json] [--offline]`: every check, in one report; exit 0 when nothing
// fails, 1 otherwise. It never starts a daemon and never prints a secret: it reads what the
// daemon and the files say about the login, never the tokens themselves.
import { VERSION } from '../../../shared/version.js';
import { daemonChecks } from './checks-daemon.js';
import { homeChecks } from './checks-home.js';
import { networkChecks } from './checks-network.js';
import { systemChecks } from './checks-system.js';
import { gatherContext } from './context.js';
import { renderReport, reportJson, runChecks } from './report.js';

export interface DoctorOptions {
  socket: string | undefined;
  json: boolean;
  offline: boolean;
}

export async function doctorCommand(options: DoctorOptions): Promise<number> {
  const context = await gatherContext(options.socket);
  const checks = [...daemonChecks(context), ...homeChecks(context), ...networkChecks(context), ...systemChecks(context)].filter((check) => !(options.offline && check.network));
  const report = await runChecks(checks, VERSION);
  process.stdout.write(`${options.json ? reportJson(report) : renderReport(report)}\n`);
  return report.overallStatus === 'fail' ? 1 : 0;
}
