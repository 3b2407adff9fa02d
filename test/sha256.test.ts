// shared/sha256.ts, which names a CODEX_HOME's socket and lock and an account's file, against
// node:crypto: every length around the block and padding boundaries, multi-byte UTF-8, several blocks.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { sha256Hex } from '../shared/sha256.js';

const expected = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

describe('sha256Hex', () => {
  it('is the standard digest of the empty text and of "abc"', () => {
    assert.equal(sha256Hex(''), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(sha256Hex('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('matches node:crypto for every length up to three blocks', () => {
    for (let length = 0; length <= 200; length++) {
      const text = Array.from({ length }, (_, i) => String.fromCharCode(33 + ((i * 7 + length) % 90))).join('');
      assert.equal(sha256Hex(text), expected(text), `length ${length}`);
    }
  });

  it('hashes the UTF-8 bytes of paths and identities as node:crypto does', () => {
    for (const text of ['/home/zoë/.codex', 'C:\\Users\\李\\.codex', 'acct-1\nuser-🙂', '\u0000', 'x'.repeat(100_000)]) {
      assert.equal(sha256Hex(text), expected(text));
    }
  });
});
