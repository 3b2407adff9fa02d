// koffi, the FFI behind shared/os.ts and shared/win32.ts, loaded the short way. Its entry point
// finds the native module in its platform package (@koromix/koffi-<platform>-<arch>) by running
// about 7 ms of uncached JavaScript on every start, most of it resolving and checking that
// package; codexd pays it before it listens, since it takes its home lock with koffi's flock.
// Loading the same native module from the same package directly takes about 1 ms. The entry
// point's wrapper only adds deprecated names, which we do not use. Anything unexpected (another
// layout, an architecture whose folder name koffi derives otherwise) falls back to the entry point.
import { closeSync, existsSync, openSync, readSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type Koffi = typeof import('koffi');

let koffi: Koffi | undefined;

/** koffi's API, loaded on first use. */
export function loadKoffi(): Koffi {
  koffi ??= loadNative() ?? (createRequire(import.meta.url)('koffi') as Koffi);
  return koffi;
}

/**
 * koffi's native module from its platform package beside koffi itself (where koffi's entry point
 * looks first), in the nearest node_modules that has koffi, as Node would resolve it; or null.
 */
function loadNative(): Koffi | null {
  if (process.arch !== 'x64' && process.arch !== 'arm64') return null;
  const system = process.platform === 'linux' ? linuxSystem(process.execPath) : process.platform;
  if (system === null) return null;
  const modules = nodeModulesWithKoffi(import.meta.dirname);
  if (modules === null) return null;
  const file = join(modules, '@koromix', `koffi-${process.platform}-${process.arch}`, `${system}_${process.arch}`, 'koffi.node');
  if (!existsSync(file)) return null;
  const module = { exports: {} };
  try {
    process.dlopen(module, file);
  } catch {
    return null;
  }
  return module.exports as Koffi;
}

/** The nearest node_modules folder, from `dir` up, that holds koffi: where Node resolves it. */
function nodeModulesWithKoffi(dir: string): string | null {
  const modules = join(dir, 'node_modules');
  if (existsSync(join(modules, 'koffi'))) return modules;
  return dirname(dir) === dir ? null : nodeModulesWithKoffi(dirname(dir));
}

/** How koffi names Linux with the C library `executable` was linked against: by its dynamic loader. */
function linuxSystem(executable: string): 'linux' | 'musl' | null {
  let fd: number;
  try {
    fd = openSync(executable, 'r');
  } catch {
    return null;
  }
  try {
    const interpreter = elfInterpreter((length, position) => {
      const buffer = Buffer.alloc(length);
      return buffer.subarray(0, readSync(fd, buffer, 0, length, position));
    });
    if (interpreter === null) return null;
    return /(^|\/)ld-musl-[^/]*$/.test(interpreter) ? 'musl' : 'linux';
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

const PT_INTERP = 3;
const MAX_PROGRAM_HEADERS = 256;
const MAX_INTERPRETER = 4096;

/**
 * The dynamic loader a 64-bit little-endian ELF file names (its PT_INTERP), read through `read`;
 * null for anything else, such as a static executable or a truncated file.
 */
export function elfInterpreter(read: (length: number, position: number) => Buffer): string | null {
  const header = read(64, 0);
  // \x7fELF, 64-bit, little-endian, version 1.
  if (header.length < 64 || header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1 || header[6] !== 1) return null;
  const tableAt = Number(header.readBigUInt64LE(32));
  const entrySize = header.readUInt16LE(54);
  const entries = header.readUInt16LE(56);
  if (entrySize !== 56 || entries > MAX_PROGRAM_HEADERS) return null;
  const table = read(entries * entrySize, tableAt);
  if (table.length !== entries * entrySize) return null;
  for (let at = 0; at < table.length; at += entrySize) {
    if (table.readUInt32LE(at) !== PT_INTERP) continue;
    const offset = Number(table.readBigUInt64LE(at + 8));
    const size = Number(table.readBigUInt64LE(at + 32));
    if (size < 2 || size > MAX_INTERPRETER) return null;
    const path = read(size, offset);
    // A NUL-terminated path.
    if (path.length !== size || path[size - 1] !== 0) return null;
    return path.subarray(0, size - 1).toString('latin1');
  }
  return null;
}
