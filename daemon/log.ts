// JSON-lines logging with pino. Secrets are removed twice: by field name (`redact`), and by
// value in every line written (`scrub`), so a token that slips into a message is caught too.
import { mkdirSync } from 'node:fs';
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

export function createLogger(options: { level: string; file: string | null }): Logger {
  let destination: pino.DestinationStream;
  if (options.file) {
    // Created 0700/0600 in the call itself, never chmod-ed afterwards.
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
    destination = pino.destination({ dest: options.file, sync: true, mode: 0o600 });
  } else {
    destination = pino.destination({ fd: 2, sync: true });
  }
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      redact: { paths: redactPaths, censor: '[REDACTED]' },
      hooks: { streamWrite: scrub },
    },
    destination,
  );
}
