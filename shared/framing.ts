// The pieces of LSP framing that need no JSON-RPC library: the size limit, the header parser and
// the check that a frame holds a JSON-RPC 2.0 message. Used by transport.ts (the MessageReader
// of every long-lived connection) and by oneshot.ts (`codex-auth token`'s single request).

/** Largest message either side accepts; a bigger one closes that connection. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export const HEADER_END = Buffer.from('\r\n\r\n');
export const MAX_HEADER_BYTES = 8 * 1024;

/** Raised when the peer broke the framing; the connection cannot continue. */
export class FramingError extends Error {
  override name = 'FramingError';
}

export function parseContentLength(header: string, max: number): number {
  let length = -1;
  for (const line of header.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) throw new FramingError('malformed header line');
    if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue;
    const value = line.slice(colon + 1).trim();
    if (!/^\d{1,10}$/.test(value)) throw new FramingError('Content-Length is not a non-negative integer');
    length = Number(value);
  }
  if (length < 0) throw new FramingError('missing Content-Length header');
  if (length > max) throw new FramingError(`message of ${length} bytes exceeds the ${max}-byte limit`);
  return length;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function idOf(value: unknown): string | number | null {
  if (!isRecord(value)) return null;
  const id = value['id'];
  return typeof id === 'string' || Number.isFinite(id) ? (id as string | number) : null;
}

/** Why `value` is not a JSON-RPC 2.0 message, or null when it is one. */
export function invalidMessage(value: unknown): string | null {
  if (Array.isArray(value)) return 'batch requests are not supported';
  if (!isRecord(value)) return 'a message must be a JSON object';
  if (value['jsonrpc'] !== '2.0') return 'jsonrpc must be "2.0"';
  const id = value['id'];
  if (id !== undefined && id !== null && typeof id !== 'string' && !Number.isFinite(id)) {
    // 1e400 parses as Infinity, which JSON cannot carry back (it would be answered with id null).
    return 'id must be a string or a finite number';
  }
  if ('method' in value) {
    if (typeof value['method'] !== 'string') return 'method must be a string';
    const params = value['params'];
    if (params !== undefined && (typeof params !== 'object' || params === null)) {
      return 'params must be an object or an array';
    }
    return null;
  }
  if (id !== undefined && ('result' in value || isRecord(value['error']))) return null;
  return 'neither a request, a notification nor a response';
}

/** One message, framed. */
export function frame(message: unknown): string {
  const json = JSON.stringify(message);
  return `Content-Length: ${Buffer.byteLength(json, 'utf8')}\r\n\r\n${json}`;
}
