// When the daemon's timers fire, in-process under node:test's mock timers: a device-code login
// polls at the issuer's interval clamped to 250 ms..60 s, and every duration setting at its
// maximum still fits a Node timer (past 2^31 - 1 ms, setTimeout fires after 1 ms). The daemon
// with every setting at its maximum is in hardening/timer-ranges.test.ts.
import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { afterEach, beforeEach, describe, mock, test } from 'node:test';
import type { IssuerClient } from '../daemon/auth/issuer.js';
import { startDeviceLogin } from '../daemon/login/device.js';
import { createLogger } from '../daemon/runtime/log.js';
import type { Settings } from '../daemon/runtime/settings.js';
import { SETTINGS } from '../shared/settings.js';

const MAX_TIMER_MS = 2 ** 31 - 1;

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await turn();
}

describe('device-code polling', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
  afterEach(() => mock.timers.reset());

  /** A device-code login against an issuer that asks for `intervalS` and never approves; returns the poll count. */
  async function pollsOf(intervalS: number): Promise<{ polls: () => number; end: () => void }> {
    let polls = 0;
    const issuer = {
      issuer: 'https://issuer.invalid',
      requestUserCode: async () => ({ deviceAuthId: 'dev', userCode: 'ABCD-EFGH', intervalS }),
      pollDeviceToken: async () => {
        polls++;
        return null;
      },
    } as unknown as IssuerClient;
    const login = await startDeviceLogin(
      { loginId: 'l', issuer, log: createLogger({ level: 'silent', file: null }), persist: async () => undefined, finished: () => undefined },
      { deviceCodeTimeoutS: 900 } as Settings,
    );
    return { polls: () => polls, end: () => login.flow.cancel('done') };
  }

  for (const [intervalS, pollMs] of [
    [3_000_000, 60_000],
    [5, 5000],
    [0, 250],
  ] as const) {
    test(`an interval of ${intervalS} s polls every ${pollMs} ms`, async () => {
      const login = await pollsOf(intervalS);
      for (let n = 1; n <= 3; n++) {
        mock.timers.tick(pollMs - 1);
        await settle();
        assert.equal(login.polls(), n - 1, `not before ${pollMs} ms`);
        mock.timers.tick(1);
        await settle();
        assert.equal(login.polls(), n);
      }
      login.end();
    });
  }
});

test('every duration setting at its maximum fits a Node timer', () => {
  const durations = Object.entries(SETTINGS).filter(([name, spec]) => spec.type === 'integer' && /_(S|MS)$/.test(name));
  assert.ok(durations.length >= 10, durations.map(([name]) => name).join());
  for (const [name, spec] of durations) {
    const maxMs = (spec as { max: number }).max * (name.endsWith('_MS') ? 1 : 1000);
    assert.ok(maxMs <= MAX_TIMER_MS, `${name} up to ${maxMs} ms`);
  }
});
