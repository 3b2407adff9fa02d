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
  createMessageConnection,
  type DataCallback,
  Disposable,
  type Message,
  type MessageConnection,
  type MessageReader,
  type MessageWriter,
} from 'vscode-jsonrpc/node';
import { ErrorCodes } from './errors.js';
import { frame, FrameParser, FramingError, idOf, invalidMessage, isRecord, MAX_MESSAGE_BYTES } from './framing.js';

export { FramingError };

export interface TransportLimits {
  maxMessageBytes: number;
  /** A frame left half-sent this long closes the connection. 0 disables. */
  partialFrameTimeoutMs: number;
  /** Bytes queued for a peer that does not read before the connection is dropped. */
  maxWriteBacklogBytes: number;
  /** Requests read but not yet answered before reading pauses (a flood waits in the peer, not in us). */
  maxPendingRequests: number;
}

export const defaultLimits: TransportLimits = {
  maxMessageBytes: MAX_MESSAGE_BYTES,
  partialFrameTimeoutMs: 10_000,
  maxWriteBacklogBytes: 4 * MAX_MESSAGE_BYTES,
  maxPendingRequests: 128,
};

type ErrorReply = (code: number, message: string, id: string | number | null) => void;

export class FrameReader extends AbstractMessageReader implements MessageReader {
  private readonly parser: FrameParser;
  private stallTimer: NodeJS.Timeout | undefined;
  /**
   * Frames read that will be answered (requests, and the errors we reply to), not answered yet:
   * by id, since vscode-jsonrpc answers pipelined requests that share an id only once.
   */
  private readonly pendingIds = new Set<string | number>();
  private pendingWithoutId = 0;
  private paused = false;

  constructor(
    private readonly socket: Socket,
    private readonly limits: TransportLimits,
    /** Sends a JSON-RPC error response for a frame that was whole but not a valid message. */
    private readonly replyError: ErrorReply,
  ) {
    super();
    this.parser = new FrameParser(limits.maxMessageBytes);
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
    this.parser.push(chunk, (body) => this.deliver(body, callback));
    this.armStall();
  }

  private deliver(frame: Buffer, callback: DataCallback): void {
    let value: unknown;
    try {
      value = JSON.parse(frame.toString('utf8'));
    } catch {
      this.awaitAnswer(null);
      this.replyError(ErrorCodes.parseError, 'Parse error: the message is not valid JSON', null);
      return;
    }
    const problem = invalidMessage(value);
    if (problem) {
      this.awaitAnswer(idOf(value));
      this.replyError(ErrorCodes.invalidRequest, `Invalid request: ${problem}`, idOf(value));
      return;
    }
    if (isRecord(value) && typeof value['method'] === 'string' && idOf(value) !== null) this.awaitAnswer(idOf(value));
    callback(value as Message);
  }

  private get pending(): number {
    return this.pendingIds.size + this.pendingWithoutId;
  }

  /** One more answer owed to the peer; past the limit, stop reading until answers catch up. */
  private awaitAnswer(id: string | number | null): void {
    if (id === null) this.pendingWithoutId++;
    else this.pendingIds.add(id);
    if (this.pending < this.limits.maxPendingRequests || this.paused) return;
    this.paused = true;
    this.clearStall(); // we stopped reading: a half frame waiting now is not the peer's stall
    this.socket.pause();
  }

  /** Called by the writer for every response it sends. */
  answered(id: string | number | null): void {
    if (id !== null) this.pendingIds.delete(id);
    else if (this.pendingWithoutId > 0) this.pendingWithoutId--;
    if (!this.paused || this.pending > this.limits.maxPendingRequests / 2) return;
    this.paused = false;
    this.socket.resume();
    this.armStall();
  }

  private armStall(): void {
    this.clearStall();
    if (!this.parser.partial || this.paused || this.limits.partialFrameTimeoutMs <= 0) return;
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
    this.parser.reset();
    this.fireError(error);
    this.socket.destroy();
  }
}

export class FrameWriter extends AbstractMessageWriter implements MessageWriter {
  constructor(
    private readonly socket: Socket,
    private readonly limits: TransportLimits,
    /** Told of every response written, by id (the reader's flow control). */
    private readonly onResponse: (id: string | number | null) => void = () => undefined,
  ) {
    super();
    socket.on('error', (error) => this.fireError(error));
    socket.on('close', () => this.fireClose());
  }

  write(message: Message): Promise<void> {
    if (this.writeFrame(frame(message)) && 'id' in message && !('method' in message)) this.onResponse(idOf(message));
    return Promise.resolve();
  }

  /**
   * Writes a message already framed (a notification framed once, as one buffer shared by every
   * connection it goes to); false when the connection is gone or was just cut off.
   */
  writeFrame(framed: string | Buffer): boolean {
    if (this.socket.destroyed) return false;
    this.socket.write(framed);
    // A peer that never reads would make us queue responses forever.
    if (this.socket.writableLength > this.limits.maxWriteBacklogBytes) {
      this.socket.destroy(new FramingError('peer is not reading its responses'));
      return false;
    }
    return true;
  }

  end(): void {
    this.socket.end();
  }

  /** Disposing the connection closes its socket; otherwise a client's close() leaves it open at both ends. */
  override dispose(): void {
    super.dispose();
    this.socket.end();
  }
}

/**
 * A client's JSON-RPC connection to codexd over `socket`, with the same frame limits as the
 * daemon's, and no stall timeout: the daemon's answers may take as long as a refresh.
 */
export function clientConnection(socket: Socket): MessageConnection {
  const writer = new FrameWriter(socket, defaultLimits);
  const reader = new FrameReader(socket, { ...defaultLimits, partialFrameTimeoutMs: 0 }, () => socket.destroy());
  return createMessageConnection(reader, writer);
}
