// shared/koffi.ts: koffi's native module loaded straight from its platform package (what codexd's
// start-up pays for its home lock), and the ELF reader that picks the glibc or the musl build.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { elfInterpreter } from '../shared/koffi.js';

/** A 64-bit little-endian ELF header followed by `headers` program headers (type, offset, size), then `tail`. */
function elf(headers: [type: number, offset: number, size: number][], tail = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header.set([2, 1, 1], 4);
  header.writeBigUInt64LE(64n, 32);
  header.writeUInt16LE(56, 54);
  header.writeUInt16LE(headers.length, 56);
  const table = Buffer.alloc(56 * headers.length);
  headers.forEach(([type, offset, size], i) => {
    table.writeUInt32LE(type, i * 56);
    table.writeBigUInt64LE(BigInt(offset), i * 56 + 8);
    table.writeBigUInt64LE(BigInt(size), i * 56 + 32);
  });
  return Buffer.concat([header, table, tail]);
}

const reader = (file: Buffer) => (length: number, position: number): Buffer => file.subarray(position, position + length);

/** An ELF file whose second program header is PT_INTERP naming `path`. */
function withInterpreter(path: string): Buffer {
  const at = 64 + 2 * 56;
  return elf([[1, 0, 0], [3, at, path.length + 1]], Buffer.from(`${path}\0`, 'latin1'));
}

describe('elfInterpreter', () => {
  it('reads the dynamic loader a program names, glibc or musl', () => {
    assert.equal(elfInterpreter(reader(withInterpreter('/lib64/ld-linux-x86-64.so.2'))), '/lib64/ld-linux-x86-64.so.2');
    assert.equal(elfInterpreter(reader(withInterpreter('/lib/ld-musl-x86_64.so.1'))), '/lib/ld-musl-x86_64.so.1');
  });

  it("reads the Node binary's own", { skip: process.platform !== 'linux' && 'Linux only' }, () => {
    const fd = openSync(process.execPath, 'r');
    try {
      const interpreter = elfInterpreter((length, position) => {
        const buffer = Buffer.alloc(length);
        return buffer.subarray(0, readSync(fd, buffer, 0, length, position));
      });
      assert.match(interpreter ?? '', /^\/.*\/ld-(linux|musl)[^/]*\.so\.\d$/);
    } finally {
      closeSync(fd);
    }
  });

  it('is null for a static program, a file that is not ELF, and a truncated or absurd one', () => {
    const cases: [string, Buffer][] = [
      ['no PT_INTERP (a static executable)', elf([[1, 0, 0]])],
      ['not ELF', Buffer.from('#!/bin/sh\n'.padEnd(200, ' '))],
      ['32-bit', Buffer.from(withInterpreter('/lib/ld-linux.so.2').fill(1, 4, 5))],
      ['cut inside the header', withInterpreter('/lib64/ld-linux-x86-64.so.2').subarray(0, 40)],
      ['cut inside the program headers', withInterpreter('/lib64/ld-linux-x86-64.so.2').subarray(0, 100)],
      ['cut inside the path', withInterpreter('/lib64/ld-linux-x86-64.so.2').subarray(0, 64 + 2 * 56 + 5)],
      ['a path without its NUL', elf([[3, 64 + 56, 4]], Buffer.from('/abc'))],
      ['a 1 GB path', elf([[3, 64 + 56, 1 << 30]])],
      ['65535 program headers', Buffer.from(elf([[1, 0, 0]]).fill(0xff, 56, 58))],
    ];
    for (const [name, file] of cases) assert.equal(elfInterpreter(reader(file)), null, name);
  });
});

const unix = { skip: !['linux', 'darwin'].includes(process.platform) && 'Linux and macOS' };

/** What loadKoffi() from `module` (shared/koffi.js, or a copy) loaded, in a process of its own. */
function loaded(module: string): { entryLoaded: boolean; version: string; locked: boolean; same: boolean } {
  const script = `
      const { loadKoffi } = await import(${JSON.stringify(module)});
      const koffi = loadKoffi();
      const { createRequire } = await import('node:module');
      const entryLoaded = Object.keys(createRequire(import.meta.url).cache).some((path) => /[\\\\/]koffi[\\\\/]/.test(path));
      const libc = koffi.load(process.platform === 'linux' ? 'libc.so.6' : 'libSystem.B.dylib');
      const flock = libc.func('int flock(int fd, int operation)');
      const fs = await import('node:fs');
      const fd = fs.openSync(process.execPath, 'r');
      console.log(JSON.stringify({ entryLoaded, version: koffi.version, locked: flock(fd, 2 | 4) === 0, same: loadKoffi() === koffi }));
    `;
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env['PATH'] }, encoding: 'utf8' })) as ReturnType<typeof loaded>;
}

const nodeModules = join(import.meta.dirname, '..', '..', 'node_modules');
const { version } = JSON.parse(readFileSync(join(nodeModules, 'koffi', 'package.json'), 'utf8')) as { version: string };

describe('loadKoffi', () => {
  it("loads koffi's native module without koffi's entry point, and it locks files", unix, () => {
    assert.deepEqual(loaded(join(import.meta.dirname, '..', 'shared', 'koffi.js')), { entryLoaded: false, version, locked: true, same: true });
  });

  it("falls back to koffi's entry point when its platform package is not beside koffi", unix, (t) => {
    // An install whose node_modules has koffi but not its platform package, below a folder whose
    // node_modules has one: the nearest koffi is the one Node loads, and another folder's
    // platform package (perhaps another version) is not taken for it.
    const dir = mkdtempSync(join(tmpdir(), 'cxd-koffi-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'app', 'shared'), { recursive: true });
    mkdirSync(join(dir, 'app', 'node_modules'));
    symlinkSync(join(nodeModules, 'koffi'), join(dir, 'app', 'node_modules', 'koffi'));
    mkdirSync(join(dir, 'node_modules', '@koromix'), { recursive: true });
    const platformPackage = `koffi-${process.platform}-${process.arch}`;
    symlinkSync(join(nodeModules, '@koromix', platformPackage), join(dir, 'node_modules', '@koromix', platformPackage));
    const copy = join(dir, 'app', 'shared', 'koffi.js');
    copyFileSync(join(import.meta.dirname, '..', 'shared', 'koffi.js'), copy);
    assert.deepEqual(loaded(copy), { entryLoaded: true, version, locked: true, same: true });
  });
});
