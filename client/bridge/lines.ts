// Newline-delimited JSON (Codex app-server's stdio framing), relayed with as little work as
// possible: a chunk whose complete lines hold nothing the bridge looks at is passed on as it came,
// and only the lines that might concern it are parsed.
import { StringDecoder } from 'node:string_decoder';

/** One JSON-RPC message as Codex's app-server sends it (no `jsonrpc` field). */
export interface Message {
  id?: string | number | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

export interface LineRelay {
  /** Feeds one chunk of the stream. */
  push(chunk: Buffer): void;
  /** The stream ended: a last line without its newline is handled as a line. */
  end(): void;
  /** Complete lines (held back earlier), handled as if they had just arrived. */
  lines(text: string): void;
}

/**
 * Longest line kept whole to be looked at. Every message the bridge reads is far smaller; a longer
 * line (a big diff, or a peer that never ends its line) is passed on as it comes, unread, so that
 * neither memory nor the time to find its end grows with it.
 */
export const MAX_LOOKED_AT_LINE_BYTES = 1024 * 1024;

/**
 * `interesting(text)`: whether complete lines in `text` may need a look (a cheap substring test);
 * `pass(text)`: writes text on unchanged; `handle(line)`: one line that may need a look, parsed
 * or null when it is not JSON, with its raw text (without the newline).
 */
export function lineRelay(interesting: (text: string) => boolean, pass: (text: string) => void, handle: (message: Message | null, raw: string) => void): LineRelay {
  /** The start of a line not yet ended, kept to be looked at once it ends. */
  let partial: Buffer[] = [];
  let partialBytes = 0;
  /** The line not yet ended outgrew MAX_LOOKED_AT_LINE_BYTES: the rest of it is passed on as it comes. */
  let streaming = false;
  const decoder = new StringDecoder('utf8');
  const lines = (text: string): void => {
    if (!interesting(text)) {
      pass(text);
      return;
    }
    let start = 0;
    let plain = 0;
    while (start < text.length) {
      const nl = text.indexOf('\n', start);
      const end = nl === -1 ? text.length : nl + 1;
      const line = text.slice(start, nl === -1 ? text.length : nl);
      if (interesting(line)) {
        if (plain < start) pass(text.slice(plain, start));
        handle(parse(line), line);
        plain = end;
      }
      start = end;
    }
    if (plain < text.length) pass(text.slice(plain));
  };
  /** Bytes of a line not yet ended. */
  const hold = (bytes: Buffer): void => {
    if (bytes.length === 0) return;
    if (streaming) return pass(decoder.write(bytes));
    partial.push(bytes);
    partialBytes += bytes.length;
    if (partialBytes > MAX_LOOKED_AT_LINE_BYTES) {
      streaming = true;
      pass(decoder.write(Buffer.concat(partial)));
      partial = [];
      partialBytes = 0;
    }
  };
  return {
    push(chunk) {
      const last = chunk.lastIndexOf(0x0a);
      if (last === -1) return hold(chunk);
      let complete = chunk.subarray(0, last + 1);
      if (streaming) {
        const first = complete.indexOf(0x0a);
        pass(decoder.write(complete.subarray(0, first + 1)));
        streaming = false;
        complete = complete.subarray(first + 1);
      } else if (partial.length > 0) {
        complete = Buffer.concat([...partial, complete]);
        partial = [];
        partialBytes = 0;
      }
      if (complete.length > 0) lines(decoder.write(complete));
      hold(chunk.subarray(last + 1));
    },
    end() {
      if (streaming) {
        streaming = false;
        const rest = decoder.end();
        if (rest !== '') pass(rest);
        return;
      }
      const rest = decoder.write(Buffer.concat(partial)) + decoder.end();
      partial = [];
      partialBytes = 0;
      if (rest !== '') lines(rest);
    },
    lines,
  };
}

function parse(line: string): Message | null {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Message) : null;
  } catch {
    return null;
  }
}
