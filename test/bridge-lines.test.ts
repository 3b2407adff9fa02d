// The bridge's line relay (client/bridge/lines.ts), in-process: what it passes on unread, what it
// hands over to be read, and a line too long to be read (a big message, or a peer that never ends
// its line), which goes on as it comes instead of being gathered in memory.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { lineRelay, MAX_LOOKED_AT_LINE_BYTES, type Message } from '../client/bridge/lines.js';

function relay(): { passed: string[]; handled: (Message | null)[]; push(text: string | Buffer): void; end(): void } {
  const passed: string[] = [];
  const handled: (Message | null)[] = [];
  const r = lineRelay((text) => text.includes('"account/'), (text) => passed.push(text), (message) => handled.push(message));
  return { passed, handled, push: (text) => r.push(Buffer.isBuffer(text) ? text : Buffer.from(text)), end: () => r.end() };
}

test('lines split anywhere, even inside a character, come out whole: the plain ones passed on, the marked ones read', () => {
  const r = relay();
  const input = Buffer.from('{"method":"thread/x","params":"☃"}\n{"id":1,"method":"account/logout"}\n{"tail":"é"}');
  for (let i = 0; i < input.length; i += 5) r.push(input.subarray(i, i + 5));
  r.end();
  assert.equal(r.passed.join(''), '{"method":"thread/x","params":"☃"}\n{"tail":"é"}');
  assert.deepEqual(r.handled, [{ id: 1, method: 'account/logout' }]);
});

test('a line longer than the limit goes on as it comes, unread, and the lines after it are read again', () => {
  const r = relay();
  const piece = Buffer.alloc(64 * 1024, 'x');
  const head = '{"method":"account/x","params":"';
  r.push(head);
  let pushed = 0;
  while (pushed <= MAX_LOOKED_AT_LINE_BYTES) {
    r.push(piece);
    pushed += piece.length;
  }
  const before = r.passed.join('').length;
  assert.ok(before > MAX_LOOKED_AT_LINE_BYTES, 'passed on before its end came');
  r.push(piece);
  assert.equal(r.passed.join('').length, before + piece.length, 'the rest goes on as it comes');
  r.push('"}\n{"id":2,"method":"account/read"}\n');
  r.end();
  assert.deepEqual(r.handled, [{ id: 2, method: 'account/read' }], 'the long line is not read; the next one is');
  const out = r.passed.join('');
  assert.ok(out.startsWith('{"method":"account/x","params":"xxx') && out.endsWith('xx"}\n'));
  assert.equal(out.length, head.length + pushed + piece.length + '"}\n'.length);
});

test('a line that never ends keeps the relay\'s memory bounded', () => {
  let passedBytes = 0;
  const r = lineRelay(() => false, (text) => (passedBytes += text.length), () => assert.fail('nothing to read'));
  const piece = Buffer.alloc(1024 * 1024, 'y');
  const heapBefore = process.memoryUsage().heapUsed;
  for (let i = 0; i < 256; i += 1) r.push(piece);
  assert.equal(passedBytes, 256 * piece.length);
  assert.ok(process.memoryUsage().heapUsed - heapBefore < 64 * 1024 * 1024, 'not 256 MiB gathered');
});
