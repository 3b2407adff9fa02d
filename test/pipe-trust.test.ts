// The check every Windows client makes before it sends anything on a named pipe (shared/trust.ts,
// checkPipeServer): the process serving the pipe must run as this user. The lookups are Windows
// system calls (shared/win32.ts), exercised for real by npm run test:windows; here they are
// replaced by forged answers, which must be refused in the same words as a stranger's socket.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SocketRefusedError } from '../shared/errors.js';
import { checkPipeServer, type PipeIdentity } from '../shared/named-pipe.js';
import { sidString } from '../shared/win32.js';

const PIPE = '\\\\.\\pipe\\codexd-alice';
const ALICE = 'S-1-5-21-1004336348-1177238915-682003330-1001';
const MALLORY = 'S-1-5-21-1004336348-1177238915-682003330-1002';

function identity(server: PipeIdentity['server'], me = ALICE): PipeIdentity {
  return { server, me: () => me };
}

describe('the check of a named pipe’s server', () => {
  it('accepts a server that runs as this user', () => {
    assert.doesNotThrow(() => checkPipeServer(PIPE, identity(() => ({ pid: 4242, sid: ALICE }))));
  });

  it('refuses a forged answer naming another user, and says nothing was sent', () => {
    assert.throws(
      () => checkPipeServer(PIPE, identity(() => ({ pid: 666, sid: MALLORY }))),
      (error: Error) =>
        error instanceof SocketRefusedError &&
        error.message === `refusing to use the socket ${PIPE}: it is served by process 666, which runs as the user ${MALLORY}, not as you (${ALICE}); nothing was sent`,
    );
  });

  it('refuses a server whose user cannot be told (the lookup failed), rather than trusting it', () => {
    assert.throws(
      () => checkPipeServer(PIPE, identity(() => { throw new Error('OpenProcess(666) failed (Windows error 5)'); })),
      (error: Error) => error instanceof SocketRefusedError && /cannot tell which user serves it \(OpenProcess\(666\) failed/.test(error.message),
    );
  });

  it('passes on "nothing serves this pipe" as it is, so that autostart starts a daemon', () => {
    const absent = Object.assign(new Error('opening the pipe failed (Windows error 2)'), { code: 'ENOENT' });
    assert.throws(() => checkPipeServer(PIPE, identity(() => { throw absent; })), (error: Error) => error === absent);
  });

  it('reads a SID from its bytes: S-1-5-21-… with little-endian sub-authorities', () => {
    const sid = Buffer.from([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0, 0xdc, 0xf4, 0xdc, 0x3b, 0x83, 0x3d, 0x2b, 0x46, 0x82, 0x8b, 0xa6, 0x28, 0xe9, 0x03, 0, 0]);
    assert.equal(sidString(sid), ALICE);
    assert.equal(sidString(Buffer.from([1, 1, 0, 0, 0, 0, 0, 5, 18, 0, 0, 0])), 'S-1-5-18');
    assert.throws(() => sidString(Buffer.from([1, 5, 0, 0, 0, 0, 0, 5, 21, 0, 0, 0])), /shorter than its count/);
  });
});
