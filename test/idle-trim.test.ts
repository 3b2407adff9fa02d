// When the daemon gives its free heap back (daemon/runtime/idle-trim.ts), in-process under
// node:test's mock timers: once requests have stopped for a second, never while they go on, and
// again after the next burst; an idle daemon has no timer left.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import { IdleTrim, QUIET_MS } from '../daemon/runtime/idle-trim.js';

describe('idle trim', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  function counted(): { idle: IdleTrim; trims: () => number } {
    let trims = 0;
    return { idle: new IdleTrim(() => trims++), trims: () => trims };
  }

  test('one request: trimmed a quiet second later, once', () => {
    const { idle, trims } = counted();
    idle.touch();
    mock.timers.tick(QUIET_MS - 1);
    assert.equal(trims(), 0);
    mock.timers.tick(1);
    assert.equal(trims(), 1);
    mock.timers.tick(60 * QUIET_MS);
    assert.equal(trims(), 1, 'an idle daemon trims no more');
  });

  test('never while requests go on; after they stop, within two quiet periods', () => {
    const { idle, trims } = counted();
    for (let ms = 0; ms < 10 * QUIET_MS; ms += 50) {
      idle.touch();
      mock.timers.tick(50);
    }
    assert.equal(trims(), 0, 'trimmed during the burst');
    mock.timers.tick(2 * QUIET_MS);
    assert.equal(trims(), 1);
  });

  test('each burst is followed by one trim', () => {
    const { idle, trims } = counted();
    for (let burst = 1; burst <= 3; burst++) {
      idle.touch();
      idle.touch();
      mock.timers.tick(QUIET_MS);
      assert.equal(trims(), burst - 1, 'trimmed during the burst');
      mock.timers.tick(QUIET_MS);
      assert.equal(trims(), burst);
    }
  });
});
