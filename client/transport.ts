// LSP-style framing (`Content-Length: N\r\n\r\n` + N bytes of JSON) over a node:net socket,
// as vscode-jsonrpc MessageReader/MessageWriter. The stock SocketMessageReader has no size cap,
// accepts negative lengths and answers nothing to malformed JSON; this one is strict:
//  - a frame over the cap, a broken header or a stalled half frame closes the connection;
//  - a whole frame that is not JSON, or not a JSON-RPC message, gets an error response and the
//    connection carries on, as JSON-RPC 2.0 asks.
import type { Socket } from 'node:net';
import {
  AbstractMessageReader,
  AbstractMessageWriter,
  type DataCallback,
  Disposable,
  type Message,
  type MessageReader,
  type MessageWriter,
} from 'vscode-jsonrpc/node';
import { ErrorCodes, MAX_MESSAGE_BYTES } from './protocol.js';

const HEADER_END = Buffer.from('\r\n\r\n');
const MAX_HEADER_BYTES = 8 * 1024;

export interface TransportLimits {
  maxMessageBytes: number;
  /** A frame left half-sent this long closes the connection. 0 disables. */
  partialFrameTimeoutMs: number;
  /** Bytes queued for a peer that does not read before the connection is dropped. */
  maxWriteBacklogBytes: number;
}

export const defaultLimits: TransportLimits = {
  maxMessageBytes: MAX_MESSAGE_BYTES,
  partialFrameTimeoutMs: 10_000,
  maxWriteBacklogBytes: 4 * MAX_MESSAGE_BYTES,
};

/** Raised when the peer broke the framing; the connection cannot continue. */
export class FramingError extends Error {
  override name = 'FramingError';
}

type ErrorReply = (code: number, message: string, id: string | number | null) => void;

export class FrameReader extends AbstractMessageReader implements MessageReader {
  private header: Buffer = Buffer.alloc(0);
  private body: Buffer[] = [];
  private bodyBytes = 0;
  private expected = -1;
  private stallTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly limits: TransportLimits,
    /** Sends a JSON-RPC error response for a frame that was whole but not a valid message. */
    private readonly replyError: ErrorReply,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    const onData = (chunk: Buffer): void => {
      try {
        this.consume(chunk, callback);
      } catch (error) {
        this.fail(error instanceof FramingError ? error : new FramingError(String(error)));
      }
    };
    const onClose = (): void => {
      this.clearStall();
      this.fireClose();
    };
    const onError = (error: Error): void => this.fireError(error);
    this.socket.on('data', onData);
    this.socket.on('close', onClose);
    this.socket.on('error', onError);
    return Disposable.create(() => {
      this.clearStall();
      this.socket.off('data', onData);
      this.socket.off('close', onClose);
      this.socket.off('error', onError);
    });
  }

  private consume(chunk: Buffer, callback: DataCallback): void {
    while (chunk.length > 0) {
      if (this.expected < 0) {
        this.header = this.header.length === 0 ? chunk : Buffer.concat([this.header, chunk]);
        chunk = Buffer.alloc(0);
        const end = this.header.indexOf(HEADER_END);
        if (end < 0) {
          if (this.header.length > MAX_HEADER_BYTES) throw new FramingError('header too long');
          break;
        }
        this.expected = parseContentLength(this.header.subarray(0, end).toString('ascii'), this.limits.maxMessageBytes);
        chunk = this.header.subarray(end + HEADER_END.length);
        this.header = Buffer.alloc(0);
      }
      const take = Math.min(chunk.length, this.expected - this.bodyBytes);
      this.body.push(chunk.subarray(0, take));
      this.bodyBytes += take;
      chunk = chunk.subarray(take);
      if (this.bodyBytes === this.expected) {
        const frame = this.body.length === 1 ? this.body[0]! : Buffer.concat(this.body);
        this.body = [];
        this.bodyBytes = 0;
        this.expected = -1;
        this.deliver(frame, callback);
      }
    }
    this.armStall();
  }

  private deliver(frame: Buffer, callback: DataCallback): void {
    let value: unknown;
    try {
      value = JSON.parse(frame.toString('utf8'));
    } catch {
      this.replyError(ErrorCodes.parseError, 'Parse error: the message is not valid JSON', null);
      return;
    }
    const problem = invalidMessage(value);
    if (problem) {
      this.replyError(ErrorCodes.invalidRequest, `Invalid request: ${problem}`, idOf(value));
      return;
    }
    callback(value as Message);
  }

  private armStall(): void {
    this.clearStall();
    const pending = this.header.length > 0 || this.expected >= 0;
    if (!pending || this.limits.partialFrameTimeoutMs <= 0) return;
    this.stallTimer = setTimeout(
      () => this.fail(new FramingError('a partial message stalled; closing the connection')),
      this.limits.partialFrameTimeoutMs,
    );
    this.stallTimer.unref();
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private fail(error: FramingError): void {
    this.clearStall();
    this.header = Buffer.alloc(0);
    this.body = [];
    this.fireError(error);
    this.socket.destroy();
  }
}

function parseContentLength(header: string, max: number): number {
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

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function idOf(value: unknown): string | number | null {
  if (!isRecord(value)) return null;
  const id = value['id'];
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}

/** Why `value` is not a JSON-RPC 2.0 message, or null when it is one. */
function invalidMessage(value: unknown): string | null {
  if (Array.isArray(value)) return 'batch requests are not supported';
  if (!isRecord(value)) return 'a message must be a JSON object';
  if (value['jsonrpc'] !== '2.0') return 'jsonrpc must be "2.0"';
  const id = value['id'];
  if (id !== undefined && id !== null && typeof id !== 'string' && typeof id !== 'number') {
    return 'id must be a string or a number';
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

export class FrameWriter extends AbstractMessageWriter implements MessageWriter {
  constructor(
    private readonly socket: Socket,
    private readonly limits: TransportLimits,
  ) {
    super();
    socket.on('error', (error) => this.fireError(error));
    socket.on('close', () => this.fireClose());
  }

  write(message: Message): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    const json = JSON.stringify(message);
    const length = Buffer.byteLength(json, 'utf8');
    this.socket.write(`Content-Length: ${length}\r\n\r\n${json}`, 'utf8');
    // A peer that never reads would make us queue responses forever.
    if (this.socket.writableLength > this.limits.maxWriteBacklogBytes) {
      this.socket.destroy(new FramingError('peer is not reading its responses'));
    }
    return Promise.resolve();
  }

  end(): void {
    this.socket.end();
  }
}
