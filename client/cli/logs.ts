// `codex-auth logs [-f] [-n N] [--json]`: the daemon's log, readable. Under systemd it is in the journal;
// otherwise in the log file of the daemon that serves this CODEX_HOME. Loaded only by that command.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { PRETTY_OPTIONS } from '../../daemon/runtime/log.js';
import { escapeC1, printable } from './format.js';
import { setTimeout as sleep } from 'node:timers/promises';

export type LogSource = { journal: true } | { journal: false; file: string };

export interface LogsOptions {
  follow: boolean;
  json: boolean;
  /** Only the last this many entries of what is there already; null: all of them. */
  last: number | null;
}

const FOLLOW_POLL_MS = 250;

/** Turns the daemon's JSON lines into what the person asked for, one line at a time. */
async function lineWriter(json: boolean): Promise<(line: string) => void> {
  if (json) return (line) => process.stdout.write(`${escapeC1(line)}\n`);
  const { prettyFactory } = await import('pino-pretty');
  const pretty = prettyFactory({ ...PRETTY_OPTIONS, colorize: Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'] });
  return (line) => {
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      process.stdout.write(`${printable(line)}\n`); // a plain line, such as a start-up error under systemd
      return;
    }
    process.stdout.write(typeof entry === 'object' && entry !== null ? pretty(clean(entry)) : `${printable(line)}\n`);
  };
}

/** A logged issuer message may hold escape sequences: strip them from every string before printing. */
function clean(value: unknown): unknown {
  if (typeof value === 'string') return printable(value).replace(/\n/g, ' ');
  if (Array.isArray(value)) return value.map(clean);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [printable(key), clean(item)]));
  return value;
}

/** Splits chunks into lines, holding back a partial last line until its end arrives. */
function lineSplitter(write: (line: string) => void): (chunk: string) => void {
  let rest = '';
  return (chunk) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) if (line) write(line);
  };
}

function journal(options: LogsOptions, write: (line: string) => void): Promise<number> {
  // Test-only: CODEXD_JOURNALCTL names a stand-in, as CODEXD_SYSTEMCTL does for `service`.
  const binary = process.env['CODEXD_JOURNALCTL'] || 'journalctl';
  const args = ['--user', '-u', 'codexd.service', '-o', 'cat', '--no-pager', ...(options.last === null ? [] : ['-n', String(options.last)]), ...(options.follow ? ['-f'] : [])];
  return new Promise((resolve) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    const feed = lineSplitter(write);
    child.stdout.setEncoding('utf8').on('data', feed);
    child.once('error', (error) => {
      process.stderr.write(`codex-auth: cannot run journalctl (${error.message}); codexd runs under systemd, so its log is in the journal\n`);
      resolve(1);
    });
    child.once('close', (code) => resolve(code === 0 ? 0 : 1));
  });
}

/** Everything from `offset` to the end of the file; returns the new offset (0 again after truncation). */
function readFrom(file: string, offset: number, feed: (chunk: string) => void): number {
  const size = statSync(file).size;
  if (size < offset) offset = 0;
  if (size === offset) return offset;
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(64 * 1024);
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, offset);
      if (read === 0) return offset;
      feed(buffer.toString('utf8', 0, read));
      offset += read;
    }
  } finally {
    closeSync(fd);
  }
}

async function logFile(file: string, options: LogsOptions, write: (line: string) => void): Promise<number> {
  // What is there already, held back when only the last entries are wanted.
  const before: string[] = [];
  let feed = lineSplitter(options.last === null ? write : (line) => before.push(line));
  let offset: number;
  try {
    offset = readFrom(file, 0, feed);
    if (options.last !== null) for (const line of options.last === 0 ? [] : before.slice(-options.last)) write(line);
    feed = lineSplitter(write);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    process.stderr.write(code === 'ENOENT' ? `codex-auth: no log yet at ${file}; codexd writes it once it runs detached\n` : `codex-auth: cannot read ${file}: ${code ?? (error as Error).message}\n`);
    return 1;
  }
  if (!options.follow) return 0;
  // Until Ctrl-C or a closed pipe: polling survives the file being truncated or recreated.
  for (;;) {
    await sleep(FOLLOW_POLL_MS);
    try {
      offset = readFrom(file, offset, feed);
    } catch {
      offset = 0; // gone for a moment; a new daemon creates it again
    }
  }
}

export async function showLogs(source: LogSource, options: LogsOptions): Promise<number> {
  process.stdout.on('error', () => process.exit(0)); // `codex-auth logs | head`
  const write = await lineWriter(options.json);
  return source.journal ? journal(options, write) : logFile(source.file, options, write);
}
