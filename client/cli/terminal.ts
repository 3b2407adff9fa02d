// Small terminal helpers for codex-auth: hidden input, a numbered menu and a spinner.
// Hand-written because each is a few lines and the CLI must start fast.

export async function ask(question: string): Promise<string> {
  // Loaded on first use: readline costs start-up time that commands without a prompt never need.
  const { createInterface } = await import('node:readline');
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      resolve(answer.trim());
    });
  });
}

/** Reads a line without echoing it (for API keys). Ctrl-C aborts the process. */
export function askHidden(question: string): Promise<string> {
  return new Promise((resolve) => {
    const input = process.stdin;
    process.stderr.write(question);
    input.setRawMode(true);
    input.resume();
    let value = '';
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\u0003') {
          input.setRawMode(false);
          process.stderr.write('\n');
          process.exit(130);
        } else if (char === '\r' || char === '\n') {
          input.setRawMode(false);
          input.pause();
          input.off('data', onData);
          process.stderr.write('\n');
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
  });
}

export async function choose(title: string, options: string[]): Promise<number> {
  process.stderr.write(`${title}\n${options.map((option, i) => `  ${i + 1}) ${option}`).join('\n')}\n`);
  for (;;) {
    const answer = await ask(`Choose [1-${options.length}, Enter for 1]: `);
    if (answer === '') return 0;
    const index = Number(answer) - 1;
    if (Number.isInteger(index) && index >= 0 && index < options.length) return index;
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
