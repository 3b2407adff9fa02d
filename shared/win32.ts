// The Windows system calls Node lacks, through koffi (loaded on first use, and only on Windows):
//  - whose process serves a named pipe, and which user a process runs as (its SID), for the check
//    every client makes before it sends anything, as ssh checks a Unix socket's owner;
//  - the pipe's DACL: Node creates pipes with the default one, which lets every user open them for
//    reading, and cannot set another (nodejs/node#47086);
//  - LockFileEx, the lock Codex takes on auth.lock and auth.json.lock on Windows (Rust's
//    File::lock), where Linux has flock.
// README "Windows" and docs/windows.md give the argument; nothing here runs on Linux or macOS.
import { loadKoffi, type Koffi } from './koffi.js';

const GENERIC_READ = 0x80000000;
const GENERIC_WRITE = 0x40000000;
const READ_CONTROL = 0x00020000;
const WRITE_DAC = 0x00040000;
const FILE_SHARE_ALL = 0x7; // read, write and delete, as Node and Rust open files
const OPEN_EXISTING = 3;
const OPEN_ALWAYS = 4;
const FILE_ATTRIBUTE_NORMAL = 0x80;
const INVALID_HANDLE = -1;
const TOKEN_QUERY = 0x8;
const TOKEN_USER = 1;
const PROCESS_QUERY_LIMITED_INFORMATION = 0x1000;
const DACL_SECURITY_INFORMATION = 0x4;
const SDDL_REVISION_1 = 1;
const LOCKFILE_FAIL_IMMEDIATELY = 0x1;
const LOCKFILE_EXCLUSIVE_LOCK = 0x2;
const ERROR_FILE_NOT_FOUND = 2;
const ERROR_PATH_NOT_FOUND = 3;
const ERROR_LOCK_VIOLATION = 33;
const ERROR_PIPE_BUSY = 231;
const PIPE_BUSY_WAIT_MS = 2000;

/**
 * The byte codexd locks: one byte inside the range Rust's File::lock and File::try_lock lock on
 * Windows (offset 0, length 2^64 - 1), so codexd and Codex exclude each other, while the rest of
 * the file stays readable (a LockFileEx range is mandatory: nobody else may read or write it).
 */
const LOCK_OFFSET_HIGH = 0x80000000;

interface Kernel32 {
  CreateFileW(name: string, access: number, share: number, security: null, disposition: number, flags: number, template: null): number;
  CloseHandle(handle: number): boolean;
  GetLastError(): number;
  GetNamedPipeServerProcessId(pipe: number, pid: number[]): boolean;
  WaitNamedPipeW(name: string, timeoutMs: number): boolean;
  GetCurrentProcess(): number;
  OpenProcess(access: number, inherit: boolean, pid: number): number;
  LockFileEx(file: number, flags: number, reserved: number, lengthLow: number, lengthHigh: number, overlapped: Overlapped): boolean;
  UnlockFileEx(file: number, reserved: number, lengthLow: number, lengthHigh: number, overlapped: Overlapped): boolean;
}

interface Advapi32 {
  OpenProcessToken(process: number, access: number, token: number[]): boolean;
  GetTokenInformation(token: number, kind: number, buffer: Buffer | null, length: number, returned: number[]): boolean;
  ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl: string, revision: number, descriptor: unknown[], size: null): boolean;
  SetKernelObjectSecurity(handle: number, what: number, descriptor: unknown): boolean;
  GetKernelObjectSecurity(handle: number, what: number, buffer: Buffer | null, length: number, needed: number[]): boolean;
  ConvertSecurityDescriptorToStringSecurityDescriptorW(descriptor: Buffer, revision: number, what: number, sddl: unknown[], length: null): boolean;
}

interface Overlapped {
  Internal: number;
  InternalHigh: number;
  Offset: number;
  OffsetHigh: number;
  hEvent: null;
}

let loaded: { k: Kernel32; a: Advapi32; koffi: Koffi } | undefined;

function api(): { k: Kernel32; a: Advapi32; koffi: Koffi } {
  if (loaded) return loaded;
  if (process.platform !== 'win32') throw new Error('Windows system calls are only available on Windows');
  const koffi = loadKoffi();
  const kernel32 = koffi.load('kernel32.dll');
  const advapi32 = koffi.load('advapi32.dll');
  koffi.struct('CODEXD_OVERLAPPED', { Internal: 'uintptr', InternalHigh: 'uintptr', Offset: 'uint32', OffsetHigh: 'uint32', hEvent: 'void *' });
  const k: Kernel32 = {
    CreateFileW: kernel32.func('intptr __stdcall CreateFileW(const char16_t *name, uint32 access, uint32 share, void *security, uint32 disposition, uint32 flags, void *template)'),
    CloseHandle: kernel32.func('bool __stdcall CloseHandle(intptr handle)'),
    GetLastError: kernel32.func('uint32 __stdcall GetLastError()'),
    GetNamedPipeServerProcessId: kernel32.func('bool __stdcall GetNamedPipeServerProcessId(intptr pipe, _Out_ uint32 *pid)'),
    WaitNamedPipeW: kernel32.func('bool __stdcall WaitNamedPipeW(const char16_t *name, uint32 timeout)'),
    GetCurrentProcess: kernel32.func('intptr __stdcall GetCurrentProcess()'),
    OpenProcess: kernel32.func('intptr __stdcall OpenProcess(uint32 access, bool inherit, uint32 pid)'),
    LockFileEx: kernel32.func('bool __stdcall LockFileEx(intptr file, uint32 flags, uint32 reserved, uint32 lengthLow, uint32 lengthHigh, _Inout_ CODEXD_OVERLAPPED *overlapped)'),
    UnlockFileEx: kernel32.func('bool __stdcall UnlockFileEx(intptr file, uint32 reserved, uint32 lengthLow, uint32 lengthHigh, _Inout_ CODEXD_OVERLAPPED *overlapped)'),
  };
  const a: Advapi32 = {
    OpenProcessToken: advapi32.func('bool __stdcall OpenProcessToken(intptr process, uint32 access, _Out_ intptr *token)'),
    GetTokenInformation: advapi32.func('bool __stdcall GetTokenInformation(intptr token, int kind, _Out_ uint8 *buffer, uint32 length, _Out_ uint32 *returned)'),
    ConvertStringSecurityDescriptorToSecurityDescriptorW: advapi32.func(
      'bool __stdcall ConvertStringSecurityDescriptorToSecurityDescriptorW(const char16_t *sddl, uint32 revision, _Out_ void **descriptor, void *size)',
    ),
    SetKernelObjectSecurity: advapi32.func('bool __stdcall SetKernelObjectSecurity(intptr handle, uint32 what, void *descriptor)'),
    GetKernelObjectSecurity: advapi32.func('bool __stdcall GetKernelObjectSecurity(intptr handle, uint32 what, _Out_ uint8 *buffer, uint32 length, _Out_ uint32 *needed)'),
    ConvertSecurityDescriptorToStringSecurityDescriptorW: advapi32.func(
      'bool __stdcall ConvertSecurityDescriptorToStringSecurityDescriptorW(uint8 *descriptor, uint32 revision, uint32 what, _Out_ void **sddl, void *length)',
    ),
  };
  loaded = { k, a, koffi };
  return loaded;
}

/** An Error with a Node-like code for the Windows errors callers tell apart. */
function win32Error(what: string, code: number): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${what} failed (Windows error ${code})`);
  error.errno = code;
  if (code === ERROR_FILE_NOT_FOUND || code === ERROR_PATH_NOT_FOUND) error.code = 'ENOENT';
  else if (code === ERROR_PIPE_BUSY) error.code = 'EBUSY';
  return error;
}

/**
 * "S-1-5-21-…" from a SID's bytes: revision, count of sub-authorities, a 48-bit big-endian
 * authority, then that many 32-bit little-endian sub-authorities.
 */
export function sidString(sid: Buffer): string {
  const count = sid[1]!;
  if (sid.length < 8 + 4 * count) throw new Error('a SID shorter than its count of sub-authorities');
  const authority = sid.readUIntBE(2, 6);
  const parts = [`S-${sid[0]}`, String(authority)];
  for (let i = 0; i < count; i++) parts.push(String(sid.readUInt32LE(8 + 4 * i)));
  return parts.join('-');
}

/** The SID of the user `process` (a process handle) runs as. */
function userOfProcess(process: number): string {
  const { k, a, koffi } = api();
  const token = [0];
  if (!a.OpenProcessToken(process, TOKEN_QUERY, token)) throw win32Error('OpenProcessToken', k.GetLastError());
  try {
    const needed = [0];
    a.GetTokenInformation(token[0]!, TOKEN_USER, null, 0, needed);
    const buffer = Buffer.alloc(needed[0]! || 256);
    if (!a.GetTokenInformation(token[0]!, TOKEN_USER, buffer, buffer.length, needed)) throw win32Error('GetTokenInformation', k.GetLastError());
    // TOKEN_USER starts with a pointer to the SID, which lies inside the same buffer.
    const offset = Number(buffer.readBigUInt64LE(0) - koffi.address(buffer));
    if (offset < 0 || offset + 8 > buffer.length) throw new Error('GetTokenInformation returned a SID outside its buffer');
    return sidString(buffer.subarray(offset));
  } finally {
    k.CloseHandle(token[0]!);
  }
}

let mySid: string | undefined;

/** The SID of the user this process runs as. */
export function currentUserSid(): string {
  return (mySid ??= userOfProcess(api().k.GetCurrentProcess()));
}

/** The SID of the user process `pid` runs as. */
export function processUserSid(pid: number): string {
  const { k } = api();
  const process = k.OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, false, pid);
  if (process === 0) throw win32Error(`OpenProcess(${pid})`, k.GetLastError());
  try {
    return userOfProcess(process);
  } finally {
    k.CloseHandle(process);
  }
}

/** Opens a client end of the pipe `name`, waiting a little while every instance is busy. */
function openPipe(name: string, access: number): number {
  const { k } = api();
  for (let attempt = 0; ; attempt++) {
    const handle = k.CreateFileW(name, access, 0, null, OPEN_EXISTING, 0, null);
    if (handle !== INVALID_HANDLE) return handle;
    const code = k.GetLastError();
    if (code !== ERROR_PIPE_BUSY || attempt > 0) throw win32Error(`opening the pipe ${name}`, code);
    k.WaitNamedPipeW(name, PIPE_BUSY_WAIT_MS);
  }
}

/**
 * The pid of the process serving the pipe `name` and the user it runs as. Takes one connection
 * of its own, closed at once (the server sees a client that leaves without a word). Throws an
 * ENOENT error when nothing serves that name.
 */
export function pipeServer(name: string): { pid: number; sid: string } {
  const { k } = api();
  const pipe = openPipe(name, GENERIC_READ);
  try {
    const pid = [0];
    if (!k.GetNamedPipeServerProcessId(pipe, pid)) throw win32Error('GetNamedPipeServerProcessId', k.GetLastError());
    return { pid: pid[0]!, sid: processUserSid(pid[0]!) };
  } finally {
    k.CloseHandle(pipe);
  }
}

/**
 * Replaces the DACL of the pipe `name` (every instance: they share one security descriptor, which
 * is how libuv's uv_pipe_chmod works too) with one that lets only this user and SYSTEM open it,
 * through a client handle of our own opened with WRITE_DAC, which the pipe's creator holds.
 */
export function restrictPipeToUser(name: string): void {
  const { k, a } = api();
  const descriptor: unknown[] = [null];
  if (!a.ConvertStringSecurityDescriptorToSecurityDescriptorW(`D:P(A;;GA;;;SY)(A;;GA;;;${currentUserSid()})`, SDDL_REVISION_1, descriptor, null)) {
    throw win32Error('ConvertStringSecurityDescriptorToSecurityDescriptorW', k.GetLastError());
  }
  const pipe = openPipe(name, READ_CONTROL | WRITE_DAC);
  try {
    if (!a.SetKernelObjectSecurity(pipe, DACL_SECURITY_INFORMATION, descriptor[0])) throw win32Error(`setting the DACL of ${name}`, k.GetLastError());
  } finally {
    k.CloseHandle(pipe);
  }
}

/** The pipe's DACL in SDDL ("D:P(A;;FA;;;SY)…"), as `restrictPipeToUser` left it: for tests and diagnostics. */
export function pipeDacl(name: string): string {
  const { k, a, koffi } = api();
  const pipe = openPipe(name, READ_CONTROL);
  try {
    const needed = [0];
    a.GetKernelObjectSecurity(pipe, DACL_SECURITY_INFORMATION, null, 0, needed);
    const buffer = Buffer.alloc(needed[0]! || 1024);
    if (!a.GetKernelObjectSecurity(pipe, DACL_SECURITY_INFORMATION, buffer, buffer.length, needed)) throw win32Error('GetKernelObjectSecurity', k.GetLastError());
    const sddl: unknown[] = [null];
    if (!a.ConvertSecurityDescriptorToStringSecurityDescriptorW(buffer, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, sddl, null)) {
      throw win32Error('ConvertSecurityDescriptorToStringSecurityDescriptorW', k.GetLastError());
    }
    return koffi.decode(sddl[0], 'char16_t', -1) as string;
  } finally {
    k.CloseHandle(pipe);
  }
}

function overlapped(): Overlapped {
  return { Internal: 0, InternalHigh: 0, Offset: 0, OffsetHigh: LOCK_OFFSET_HIGH, hEvent: null };
}

/** An exclusive LockFileEx on `path` (opened, created if missing), without waiting; null when another handle holds it. */
export function tryLockFile(path: string): { release(): void } | null {
  const { k } = api();
  const handle = k.CreateFileW(path, GENERIC_READ | GENERIC_WRITE, FILE_SHARE_ALL, null, OPEN_ALWAYS, FILE_ATTRIBUTE_NORMAL, null);
  if (handle === INVALID_HANDLE) throw win32Error(`opening the lock file ${path}`, k.GetLastError());
  if (!k.LockFileEx(handle, LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, overlapped())) {
    const code = k.GetLastError();
    k.CloseHandle(handle);
    if (code === ERROR_LOCK_VIOLATION) return null;
    throw win32Error(`locking ${path}`, code);
  }
  let held = true;
  return {
    release() {
      if (!held) return;
      held = false;
      k.UnlockFileEx(handle, 0, 1, 0, overlapped());
      k.CloseHandle(handle);
    },
  };
}
