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
 * `interesting(text)`: whether complete lines in `text` may need a look (a cheap substring test);
 * `pass(text)`: writes text on unchanged; `handle(line)`: one line that may need a look, parsed
 * or null when it is not JSON, with its raw text (without the newline).
 */
export function lineRelay(interesting: (text: string) => boolean, pass: (text: string) => void, handle: (message: Message | null, raw: string) => void): LineRelay {
  let partial = '';
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
  return {
    push(chunk) {
      const text = partial + decoder.write(chunk);
      const last = text.lastIndexOf('\n');
      if (last === -1) {
        partial = text;
        return;
      }
      partial = text.slice(last + 1);
      lines(text.slice(0, last + 1));
    },
    end() {
      const rest = partial + decoder.end();
      partial = '';
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
