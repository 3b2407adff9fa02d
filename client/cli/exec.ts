// `codex-auth exec [--account NAME] [--env VAR] -- CMD [ARGS...]`: runs CMD with a fresh credential
// in one environment variable, as `op run` and `aws-vault exec` do, so that it never appears in
// argv (visible in `ps`) or on disk. The credential is fetched once, when CMD starts: a
// long-running tool should ask `codex-auth token` itself each time (Codex's provider auth command).
import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import type { TokenResult } from '../../shared/protocol.js';
import { UsageError } from './usage.js';

/** What Codex and OpenAI's SDKs read an API key from. */
export const API_KEY_VARIABLE = 'OPENAI_API_KEY';

const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const FORWARDED_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH'];

export interface ExecRequest {
  command: string[];
  /** The variable to put the credential in; defaults to OPENAI_API_KEY for an API key. */
  variable: string | undefined;
}

/** Checks the command line before anything is asked of codexd. */
export function checkExecRequest(request: ExecRequest): void {
  if (request.command.length === 0) throw new UsageError('exec needs a command after --: codex-auth exec [--account NAME] [--env VAR] -- CMD [ARGS...]');
  if (request.variable !== undefined && !VARIABLE_NAME.test(request.variable)) {
    throw new UsageError(`--env ${JSON.stringify(request.variable)} is not an environment variable name (letters, digits and _, not starting with a digit)`);
  }
}

/** The variable and value for CMD's environment, or a usage error when a ChatGPT token would land in OPENAI_API_KEY by default. */
export function credentialVariable(credential: TokenResult, variable: string | undefined): [string, string] {
  if (credential.type === 'apiKey') return [variable ?? API_KEY_VARIABLE, credential.apiKey];
  if (variable === undefined) {
    throw new UsageError(
      `this account is a ChatGPT login, whose access token is not an API key: name the variable the command reads it from with --env VAR (e.g. --env CODEX_ACCESS_TOKEN)`,
    );
  }
  return [variable, credential.accessToken];
}

/** Runs CMD with the variable set, passes signals on, and resolves with the status to exit with (128 + n for a signal, as a shell does). */
export function runWithCredential(command: string[], variable: string, value: string, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [file, ...args] = command as [string, ...string[]];
  return new Promise((resolve) => {
    const child = spawn(file, args, { stdio: 'inherit', env: { ...env, [variable]: value } });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    for (const signal of FORWARDED_SIGNALS) process.on(signal, forward);
    const done = (status: number) => {
      for (const signal of FORWARDED_SIGNALS) process.off(signal, forward);
      resolve(status);
    };
    child.on('error', (error: NodeJS.ErrnoException) => {
      const missing = error.code === 'ENOENT';
      process.stderr.write(`codex-auth: cannot run ${JSON.stringify(file)}: ${missing ? 'no such command on PATH' : (error.code ?? error.message)}\n`);
      done(missing ? 127 : 126);
    });
    child.on('exit', (code, signal) => done(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
  });
}
