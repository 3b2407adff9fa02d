// LSP-style framing (`Content-Length: N\r\n\r\n` + N bytes of JSON) over a node:net socket: the
// daemon's side of every connection, on the shared frame parser, without a JSON-RPC library. It
// is strict:
//  - a frame over the cap, a broken header or a stalled half frame closes the connection;
//  - a whole frame that is not JSON, or not a JSON-RPC message, gets an error response and the
//    connection carries on, as JSON-RPC 2.0 asks;
//  - reading pauses while too many requests wait for their answers, and a peer that does not read
//    its answers is cut off.
import type { Socket } from 'node:net';
import { ErrorCodes } from './errors.js';
import { frame, frameJson, FrameParser, FramingError, idOf, invalidMessage, isRecord, MAX_MESSAGE_BYTES } from './framing.js';

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

/** A request as read: a valid JSON-RPC 2.0 message with a method and an id. */
export interface IncomingRequest {
  id: string | number;
  method: string;
  params: unknown;
}

/** The answer to a request: its result (or the result already serialized), or an error with a JSON-RPC code. */
export type Answer = { result: unknown } | { resultJson: string } | { error: { code: number; message: string } };

export interface ConnectionEvents {
  /** A request to answer, with `answer`, once. Notifications and responses from the peer are ignored (codexd sends no requests). */
  request(request: IncomingRequest): void;
  /** The connection broke (framing, a stall, a peer that does not read); the socket is being destroyed. */
  error(error: Error): void;
}

/** The connection answered last, in this process (see holdWrites). */
let lastAnswered: FramedConnection | null = null;

export class FramedConnection {
  private readonly parser: FrameParser;
  private stallTimer: NodeJS.Timeout | undefined;
  /** Requests read and not answered yet. */
  private owed = 0;
  private paused = false;

  constructor(
    private readonly socket: Socket,
    private readonly limits: TransportLimits,
    private readonly events: ConnectionEvents,
  ) {
    this.parser = new FrameParser(limits.maxMessageBytes);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.parser.push(chunk, (body) => this.deliver(body));
        this.armStall();
      } catch (error) {
        this.fail(error instanceof FramingError ? error : new FramingError(String(error)));
      }
    });
    socket.on('close', () => {
      this.clearStall();
      if (lastAnswered === this) lastAnswered = null;
    });
  }

  /** Answers the request `id`; a connection that is gone drops it. */
  answer(id: string | number, answer: Answer): void {
    this.owed--;
    this.holdWrites();
    this.writeFrame('resultJson' in answer ? frameJson(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${answer.resultJson}}`) : frame({ jsonrpc: '2.0', id, ...answer }));
    if (!this.paused || this.owed > this.limits.maxPendingRequests / 2) return;
    this.paused = false;
    this.socket.resume();
    this.armStall();
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
      const error = new FramingError('peer is not reading its responses');
      this.events.error(error);
      this.socket.destroy(error);
      return false;
    }
    return true;
  }

  /** Answers are being held (corked) until the release holdWrites chose. */
  private held = false;

  /**
   * With many clients busy, answers written in one turn of the event loop leave together in its
   * check phase, once every connection's input of that turn has been read: fewer wake-ups on both
   * sides (at 16 clients, p50 0.7x of writing each answer at once). A connection answered again
   * with no other answered in between (one busy client) is not held for the turn: its answers
   * leave once the work of the read that asked for them is done (process.nextTick), so that
   * waking the client is the last thing the daemon does before it waits again (at one client,
   * p50 0.95x of the check-phase hold, and of writing at once). See docs/performance.md.
   */
  private holdWrites(): void {
    const alone = lastAnswered === this;
    lastAnswered = this;
    if (this.held) return;
    this.held = true;
    this.socket.cork();
    const release = (): void => {
      this.held = false;
      this.socket.uncork();
    };
    if (alone) process.nextTick(release);
    else setImmediate(release);
  }

  private deliver(body: Buffer): void {
    let value: unknown;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      this.replyError(ErrorCodes.parseError, 'Parse error: the message is not valid JSON', null);
      return;
    }
    const problem = invalidMessage(value);
    if (problem) {
      this.replyError(ErrorCodes.invalidRequest, `Invalid request: ${problem}`, idOf(value));
      return;
    }
    const id = idOf(value);
    if (!isRecord(value) || typeof value['method'] !== 'string' || id === null) return;
    this.owed++;
    if (this.owed >= this.limits.maxPendingRequests && !this.paused) {
      this.paused = true;
      this.clearStall(); // we stopped reading: a half frame waiting now is not the peer's stall
      this.socket.pause();
    }
    this.events.request({ id, method: value['method'], params: value['params'] });
  }

  private replyError(code: number, message: string, id: string | number | null): void {
    this.writeFrame(frame({ jsonrpc: '2.0', id, error: { code, message } }));
  }

  private armStall(): void {
    this.clearStall();
    if (!this.parser.partial || this.paused || this.limits.partialFrameTimeoutMs <= 0) return;
    this.stallTimer = setTimeout(() => this.fail(new FramingError('a partial message stalled; closing the connection')), this.limits.partialFrameTimeoutMs);
    this.stallTimer.unref();
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }

  private fail(error: FramingError): void {
    this.clearStall();
    this.parser.reset();
    this.events.error(error);
    this.socket.destroy();
  }
}
