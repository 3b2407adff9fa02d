// `codex-auth app-server [--account NAME] [--codex PATH] [-- ARGS...]`: what an editor runs
// instead of `codex app-server ARGS`. The bridge itself is client/bridge/; this only wires it to
// the process: stdio, the settings, and one line on stderr per event.
import { runBridge } from '../bridge/bridge.js';
import { CodexdClient } from '../index.js';
import { resolveCodexExecutable } from '../../shared/paths.js';
import type { Flags } from './flags.js';
import { printable } from './format.js';

export async function appServerCommand(socket: string, autostart: boolean, flags: Flags, args: string[]): Promise<number> {
  const codexd = new CodexdClient(socket, { autostart, clientInfo: { name: 'codex-auth app-server', version: '1' } });
  try {
    return await runBridge({
      codex: resolveCodexExecutable(flags.codex),
      args,
      env: process.env,
      codexd,
      account: flags.account,
      input: process.stdin,
      output: process.stdout,
      answerMs: Number(process.env['CODEXD_BRIDGE_ANSWER_MS']) || 30_000,
      report: (line) => process.stderr.write(`codex-auth app-server: ${printable(line.replace(/\s*\n\s*/g, ' '))}\n`),
    });
  } finally {
    await codexd.close();
  }
}
