// How codexd reads every file of its own (auth.json, account files, names.json, the settings file,
// lock files, config.toml): without ever waiting or reading without bound. O_NONBLOCK, so a FIFO
// put in a file's place does not wait for a writer; and only a regular file up to a size cap is
// read, so a link to /dev/zero or a 1 GiB sparse file costs nothing. Clients use it too (the
// settings file), so it loads nothing but node:fs.
import { close, closeSync, constants, fstat, fstatSync, open, openSync, read, readSync, type Stats } from 'node:fs';
import { basename } from 'node:path';
import { promisify } from 'node:util';

/** Every file codexd reads is a few KiB; reading more than this would only cost memory. */
export const MAX_FILE_BYTES = 1024 * 1024;

export type BoundedRead = { kind: 'missing' } | { kind: 'read'; bytes: Buffer } | { kind: 'unreadable'; reason: string };

export interface ReadLimits {
  /** How the file is named in reasons; its base name by default. */
  name?: string;
  maxBytes?: number;
}

const FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0);

// node:fs's callbacks, promised: node:fs/promises (FileHandle, with readline) is not in Node's
// start-up snapshot, and codexd reads auth.json before its socket listens.
const openAsync = promisify(open);
const fstatAsync = promisify(fstat);
const readAsync = promisify(read);
const closeAsync = promisify(close);

/** Reads `file` if it is a regular file of at most `maxBytes`, in the daemon's event loop without blocking it. */
export async function readBounded(file: string, limits: ReadLimits = {}): Promise<BoundedRead> {
  const { name, maxBytes } = resolved(file, limits);
  let fd: number;
  try {
    fd = await openAsync(file, FLAGS);
  } catch (error) {
    return openFailed(name, error);
  }
  try {
    const stat = await fstatAsync(fd);
    const refused = refusal(stat, name, maxBytes);
    if (refused) return refused;
    const chunks = new Chunks(name, maxBytes, stat.size);
    while (chunks.more((await readAsync(fd, chunks.buffer, chunks.length, chunks.room, null)).bytesRead));
    return chunks.result();
  } catch (error) {
    return { kind: 'unreadable', reason: `cannot read ${name}: ${(error as Error).message}` };
  } finally {
    await closeAsync(fd);
  }
}

/** readBounded for start-up and for clients, which read before anything else can run. */
export function readBoundedSync(file: string, limits: ReadLimits = {}): BoundedRead {
  const { name, maxBytes } = resolved(file, limits);
  let fd: number;
  try {
    fd = openSync(file, FLAGS);
  } catch (error) {
    return openFailed(name, error);
  }
  try {
    const stat = fstatSync(fd);
    const refused = refusal(stat, name, maxBytes);
    if (refused) return refused;
    const chunks = new Chunks(name, maxBytes, stat.size);
    while (chunks.more(readSync(fd, chunks.buffer, chunks.length, chunks.room, null)));
    return chunks.result();
  } catch (error) {
    return { kind: 'unreadable', reason: `cannot read ${name}: ${(error as Error).message}` };
  } finally {
    closeSync(fd);
  }
}

/** The text of a file read whole; null when it is missing. Throws an Error with the reason when it cannot be read. */
export function readTextSync(file: string, limits: ReadLimits = {}): string | null {
  const found = readBoundedSync(file, limits);
  if (found.kind === 'unreadable') throw new Error(found.reason);
  return found.kind === 'missing' ? null : found.bytes.toString('utf8');
}

/** What a file is, for messages: "a FIFO", "a character device"… */
export function fileKind(stat: Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice()) return 'a character device';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isSocket()) return 'a socket';
  return 'not a file';
}

function resolved(file: string, limits: ReadLimits): Required<ReadLimits> {
  return { name: limits.name ?? basename(file), maxBytes: limits.maxBytes ?? MAX_FILE_BYTES };
}

function openFailed(name: string, error: unknown): BoundedRead {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
  return { kind: 'unreadable', reason: `cannot read ${name}: ${(error as Error).message}` };
}

function tooLarge(name: string, maxBytes: number): BoundedRead {
  const size = maxBytes >= 1024 * 1024 ? `${maxBytes / (1024 * 1024)} MiB` : `${maxBytes} bytes`;
  return { kind: 'unreadable', reason: `${name} is larger than ${size}, far more than it should hold` };
}

function refusal(stat: Stats, name: string, maxBytes: number): BoundedRead | null {
  if (!stat.isFile()) return { kind: 'unreadable', reason: `${name} is not a regular file (it is ${fileKind(stat)})` };
  if (stat.size > maxBytes) return tooLarge(name, maxBytes);
  return null;
}

/** The read loop's state: a buffer one byte over the size found, so a file that grows is caught. */
class Chunks {
  readonly buffer: Buffer;
  length = 0;
  private grew = false;

  constructor(
    private readonly name: string,
    private readonly maxBytes: number,
    size: number,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1);
  }

  get room(): number {
    return this.buffer.length - this.length;
  }

  /** Counts what one read returned; false when reading is over. */
  more(bytesRead: number): boolean {
    this.length += bytesRead;
    if (bytesRead === 0) return false;
    if (this.length === this.buffer.length) {
      this.grew = true;
      return false;
    }
    return true;
  }

  result(): BoundedRead {
    if (this.length > this.maxBytes) return tooLarge(this.name, this.maxBytes);
    if (this.grew) return { kind: 'unreadable', reason: `${this.name} grew while it was read` };
    return { kind: 'read', bytes: this.buffer.subarray(0, this.length) };
  }
}
