// Small terminal helpers for codex-auth: hidden input, a numbered menu and a spinner.
// Hand-written because each is a few lines and the CLI must start fast.

/** The person left a prompt: Ctrl-C (exit status 130, as shells expect) or Ctrl-D (1). */
export class Cancelled extends Error {
  override name = 'Cancelled';
  constructor(readonly exitCode: 130 | 1) {
    super('Login cancelled.');
  }
}

export async function ask(question: string): Promise<string> {
  // Loaded on first use: readline costs start-up time that commands without a prompt never need.
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  let settled = false;
  const leave = (reject: (error: Error) => void, exitCode: 130 | 1): void => {
    if (settled) return;
    settled = true;
    process.stderr.write('\n');
    reject(new Cancelled(exitCode));
    rl.close();
  };
  return new Promise((resolve, reject) => {
    rl.once('SIGINT', () => leave(reject, 130));
    rl.once('close', () => leave(reject, 1));
    rl.question(question, (answer) => {
      settled = true;
      resolve(answer.trim());
      rl.close();
    });
  });
}

/** Reads a line without echoing it (for API keys). Ctrl-C and Ctrl-D reject with Cancelled. */
export function askHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const input = process.stdin;
    process.stderr.write(question);
    input.setRawMode(true);
    input.resume();
    let value = '';
    const finish = (): void => {
      input.setRawMode(false);
      input.pause();
      input.off('data', onData);
      input.off('end', onEnd);
      process.stderr.write('\n');
    };
    const onEnd = (): void => {
      finish();
      reject(new Cancelled(1));
    };
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\u0003' || char === '\u0004') {
          finish();
          reject(new Cancelled(char === '\u0003' ? 130 : 1));
          return;
        } else if (char === '\r' || char === '\n') {
          finish();
          resolve(value.trim());
          return;
        } else if (char === '\u007f' || char === '\b') {
          value = value.slice(0, -1);
        } else {
          value += char;
        }
      }
    };
    input.on('data', onData);
    input.once('end', onEnd);
  });
}

export async function choose(title: string, options: string[]): Promise<number> {
  process.stderr.write(`${title}\n${options.map((option, i) => `  ${i + 1}) ${option}`).join('\n')}\n`);
  for (;;) {
    const answer = await ask(`Choose [1-${options.length}, Enter for 1]: `);
    if (answer === '') return 0;
    const index = Number(answer) - 1;
    if (/^\d+$/.test(answer) && index >= 0 && index < options.length) return index;
    process.stderr.write(`codex-auth: ${JSON.stringify(answer)} is not one of the choices: type a number from 1 to ${options.length}, or Enter for 1.\n`);
  }
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A spinner on a TTY; elsewhere the message is printed once. */
export function spinner(message: string): { stop(): void } {
  if (!process.stderr.isTTY) {
    process.stderr.write(`${message}\n`);
    return { stop: () => undefined };
  }
  let frame = 0;
  const draw = (): void => {
    process.stderr.write(`\r${FRAMES[frame++ % FRAMES.length]} ${message}`);
  };
  draw();
  const timer = setInterval(draw, 80);
  return {
    stop: () => {
      clearInterval(timer);
      process.stderr.write('\r\u001b[2K');
    },
  };
}
