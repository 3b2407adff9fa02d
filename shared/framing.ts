// LSP framing without a JSON-RPC library: the size limit, the one frame parser, the one frame
// writer and the check that a frame holds a JSON-RPC 2.0 message. Used by transport.ts (the
// MessageReader of every long-lived connection), oneshot.ts (`codex-auth token`'s single request),
// the daemon's refusals and its probe of a running daemon.

/** Largest message either side accepts; a bigger one closes that connection. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

const HEADER_END = Buffer.from('\r\n\r\n');
const EMPTY = Buffer.alloc(0);
const MAX_HEADER_BYTES = 8 * 1024;

/** Raised when the peer broke the framing; the connection cannot continue. */
export class FramingError extends Error {
  override name = 'FramingError';
}

/** The header every client sends: one line, read without splitting. */
const PLAIN_HEADER = /^Content-Length: (\d{1,10})$/;

export function parseContentLength(header: string, max: number): number {
  const plain = PLAIN_HEADER.exec(header);
  let length = plain ? Number(plain[1]) : -1;
  if (!plain) {
    for (const line of header.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon < 0) throw new FramingError('malformed header line');
      if (line.slice(0, colon).trim().toLowerCase() !== 'content-length') continue;
      const value = line.slice(colon + 1).trim();
      if (!/^\d{1,10}$/.test(value)) throw new FramingError('Content-Length is not a non-negative integer');
      length = Number(value);
    }
  }
  if (length < 0) throw new FramingError('missing Content-Length header');
  if (length > max) throw new FramingError(`message of ${length} bytes exceeds the ${max}-byte limit`);
  return length;
}

/**
 * Cuts a byte stream into frame bodies. `push` hands each body a chunk completes to `onBody`, in
 * order, and throws FramingError where the stream breaks (the connection cannot continue).
 */
export class FrameParser {
  /** The start of a header not yet ended. */
  private header: Buffer = EMPTY;
  /** The pieces of a body not yet whole. */
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private expected = -1;

  constructor(private readonly maxMessageBytes: number) {}

  /** True while a frame is partly read. */
  get partial(): boolean {
    return this.header.length > 0 || this.expected >= 0;
  }

  push(chunk: Buffer, onBody: (body: Buffer) => void): void {
    // Walks the chunk by offset: a chunk of whole frames is cut with no copy and no list.
    let at = 0;
    while (at < chunk.length) {
      if (this.expected < 0) {
        if (this.header.length > 0) {
          chunk = Buffer.concat([this.header, chunk.subarray(at)]);
          at = 0;
        }
        const end = chunk.indexOf(HEADER_END, at);
        if (end < 0) {
          this.header = chunk.subarray(at);
          if (this.header.length > MAX_HEADER_BYTES) throw new FramingError('header too long');
          return;
        }
        this.header = EMPTY;
        this.expected = parseContentLength(chunk.toString('ascii', at, end), this.maxMessageBytes);
        at = end + HEADER_END.length;
      }
      const take = Math.min(chunk.length - at, this.expected - this.bodyBytes);
      const piece = chunk.subarray(at, at + take);
      at += take;
      if (this.bodyBytes + take < this.expected) {
        this.body.push(piece);
        this.bodyBytes += take;
        continue;
      }
      const body = this.body.length === 0 ? piece : Buffer.concat([...this.body, piece]);
      this.body = [];
      this.bodyBytes = 0;
      this.expected = -1;
      onBody(body);
    }
  }

  reset(): void {
    this.header = EMPTY;
    this.body = [];
    this.bodyBytes = 0;
    this.expected = -1;
  }
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
  return frameJson(JSON.stringify(message));
}

/** One message already serialized, framed. */
export function frameJson(json: string): string {
  return `Content-Length: ${Buffer.byteLength(json, 'utf8')}\r\n\r\n${json}`;
}
