// A real pseudo-terminal for CLI tests: util-linux `script` runs codex-auth on a pty, and what
// the test writes to script's stdin arrives as keystrokes (Ctrl-C becomes SIGINT or a raw 0x03,
// exactly as in a terminal).
import { spawn } from 'node:child_process';
import { cliBin, killAtEnd, waitFor, type Sandbox } from './helpers.js';

export interface Pty {
  /** Everything the terminal showed so far (stdout and stderr, and the echo of what was typed). */
  output(): string;
  type(keys: string): void;
  /** Waits until the terminal shows `text`. */
  shows(text: string, timeoutMs?: number): Promise<void>;
  /** The exit status; kills it and fails when it has not exited within the time. */
  exitStatus(timeoutMs?: number): Promise<number | null>;
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Runs the real codex-auth (or another of our binaries) on a pty; `script -e` exits with its exit
 * status (128+n for a signal).
 */
export function cliOnPty(box: Sandbox, args: string[], env: NodeJS.ProcessEnv = {}, program: string[] = [cliBin]): Pty {
  const command = ['exec', process.execPath, ...program, ...args].map(shellQuote).join(' ');
  const child = spawn('script', ['-qfec', command, '/dev/null'], { env: { ...box.env, TERM: 'dumb', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  killAtEnd(child);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => {
      box.captured.push(output);
      resolve(code);
    });
  });
  return {
    output: () => output,
    type: (keys) => child.stdin!.write(keys),
    shows: async (text, timeoutMs = 15_000) => {
      await waitFor(() => output.includes(text), `the terminal to show ${JSON.stringify(text)}; it shows ${JSON.stringify(output)}`, timeoutMs);
    },
    exitStatus: (timeoutMs = 15_000) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`${program.join(' ')} ${args.join(' ')} did not exit within ${timeoutMs} ms; the terminal shows ${JSON.stringify(output)}`));
        }, timeoutMs);
      });
      return Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
    },
  };
}
