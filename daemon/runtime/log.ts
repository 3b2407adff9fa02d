// JSON-lines logging with pino. Secrets are removed twice: by field name (`redact`), and by
// value in every line written (`scrub`), so a token that slips into a message is caught too.
// Logging never stops the daemon: a line that cannot be written (a full disk) is dropped.
import { fchmodSync, fstatSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import { scrub } from './secrets.js';

export type { Logger };

/** Field names that hold secrets, wherever they appear in a logged object. */
export const SECRET_FIELDS = [
  'access_token',
  'accessToken',
  'refresh_token',
  'refreshToken',
  'id_token',
  'idToken',
  'OPENAI_API_KEY',
  'apiKey',
  'api_key',
  'code',
  'authorization_code',
  'code_verifier',
  'codeVerifier',
  'verifier',
  'state',
  'token',
  'subject_token',
  'userCode',
  'user_code',
  'authorization',
  'Authorization',
  'password',
  'secret',
] as const;

const redactPaths = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`, `*.*.${field}`]);
const secretFields = new Set<string>(SECRET_FIELDS);

/**
 * pino's redact paths stop at a fixed depth; this covers secret fields at any depth, in arrays
 * too, on a copy (the caller's object is left alone).
 */
function redactDeep(value: unknown, ancestors = new Set<object>()): unknown {
  if (typeof value !== 'object' || value === null || ancestors.has(value)) return value;
  const proto: unknown = Object.getPrototypeOf(value);
  if (!Array.isArray(value) && proto !== Object.prototype && proto !== null) return value; // Errors and the like: scrubbed by value
  ancestors.add(value);
  const out = Array.isArray(value)
    ? value.map((item) => redactDeep(item, ancestors))
    : Object.fromEntries(Object.entries(value).map(([key, item]) => [key, secretFields.has(key) ? '[REDACTED]' : redactDeep(item, ancestors)]));
  ancestors.delete(value);
  return out;
}

/** One line per entry, the time as everywhere else: ISO 8601, UTC, milliseconds. */
export const PRETTY_OPTIONS = { singleLine: true, translateTime: "UTC:yyyy-mm-dd'T'HH:MM:ss.l'Z'", ignore: 'pid,hostname' } as const;

/**
 * Readable lines for a person watching `codexd` in the foreground on a terminal. pino-pretty is
 * loaded only then: a detached daemon or a service never needs it.
 */
export async function prettyStderr(): Promise<pino.DestinationStream> {
  const { default: pretty } = await import('pino-pretty');
  return pretty({ ...PRETTY_OPTIONS, destination: 2, sync: true, colorize: !process.env['NO_COLOR'] });
}

/** A warn-level line in pino's format, for what the destination itself has to say. */
function warning(msg: string): string {
  return `${JSON.stringify({ level: 40, time: new Date().toISOString(), pid: process.pid, msg })}\n`;
}

/**
 * A log destination that never throws: a line that cannot be written (ENOSPC, EPIPE, ...) is
 * dropped and counted, and the count is logged before the next line that can be written.
 */
class Destination implements pino.DestinationStream {
  private dropped = 0;
  private reason = '';
  /** A line was cut short by the failure: the next write starts on a new line. */
  private cut = false;

  constructor(private readonly fd: number) {}

  write(line: string): void {
    if (this.dropped > 0) {
      const report = warning(`dropped ${this.dropped} log line${this.dropped === 1 ? '' : 's'} that could not be written (${this.reason})`);
      if (!this.append(report)) return void this.dropped++;
      this.dropped = 0;
    }
    if (!this.append(line)) this.dropped++;
  }

  private append(text: string): boolean {
    const bytes = Buffer.from(this.cut ? `\n${text}` : text);
    let written = 0;
    try {
      while (written < bytes.length) written += writeSync(this.fd, bytes, written);
      this.cut = false;
      return true;
    } catch (error) {
      this.reason = (error as NodeJS.ErrnoException).code ?? String(error);
      this.cut ||= written > 0;
      return false;
    }
  }
}

/** The log file, created 0700/0600 in the call itself (never chmod-ed afterwards); stderr when it cannot be opened. */
function openDestination(file: string | null): Destination {
  if (!file) return new Destination(2);
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const fd = openSync(file, 'a', 0o600);
    if ((fstatSync(fd).mode & 0o777) !== 0o600) fchmodSync(fd, 0o600); // a log file made by someone else
    return new Destination(fd);
  } catch (error) {
    // A full disk must not keep the daemon from starting.
    const stderr = new Destination(2);
    stderr.write(warning(`cannot write the log file ${file} (${(error as Error).message}); logging to stderr`));
    return stderr;
  }
}

export function createLogger(options: { level: string; file: string | null; stream?: pino.DestinationStream | undefined }): Logger {
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: redactPaths, censor: '[REDACTED]' },
      formatters: {
        log: (object) => redactDeep(object) as Record<string, unknown>,
        bindings: (bindings) => redactDeep(bindings) as Record<string, unknown>,
      },
      hooks: { streamWrite: scrub },
    },
    options.stream ?? openDestination(options.file),
  );
}
