// A cancelled login fails, on a real terminal: Ctrl-C exits 130 (as shells expect), Ctrl-D 1,
// and both say "Login cancelled.", at the menu, at the hidden API-key prompt and while waiting.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { finishWorlds, world } from './login-support.js';
import { cliOnPty } from './pty.js';
import { hasAuth } from './helpers.js';

after(finishWorlds);

const CTRL_C = '\u0003';
const CTRL_D = '\u0004';
const MENU = 'Choose [1-3, Enter for 1]: ';
const KEY_PROMPT = 'API key (input hidden): ';

describe('cancelling codex-auth login on a terminal', () => {
  for (const [where, keys, prompt] of [
    ['the menu', '', MENU],
    ['the hidden API-key prompt', '3\r', KEY_PROMPT],
  ] as const) {
    for (const [name, key, status] of [
      ['Ctrl-C', CTRL_C, 130],
      ['Ctrl-D', CTRL_D, 1],
    ] as const) {
      it(`${name} at ${where} exits ${status} and says "Login cancelled."`, async () => {
        const w = await world(`${name} at ${where}`);
        const pty = cliOnPty(w.box, ['login']);
        await pty.shows(MENU);
        if (keys) {
          pty.type(keys);
          await pty.shows(prompt);
        }
        pty.type(key);
        assert.equal(await pty.exitStatus(), status, pty.output());
        assert.match(pty.output(), /Login cancelled\.\r?\n/);
        assert.equal(hasAuth(w.box), false);
        assert.equal((await w.watcher.read()).login, null, 'no login was left pending');
      });
    }
  }

  it('Ctrl-C while waiting for the browser exits 130, says "Login cancelled." and cancels the login in the daemon', async () => {
    const w = await world('Ctrl-C while waiting');
    const pty = cliOnPty(w.box, ['login']);
    await pty.shows(MENU);
    pty.type('1\r');
    await pty.shows('Waiting for you to finish signing in');
    await w.updates.next((s) => s.login !== null, 10_000);
    pty.type(CTRL_C);
    assert.equal(await pty.exitStatus(), 130, pty.output());
    assert.match(pty.output(), /Login cancelled\./);
    await w.updates.next((s) => s.login === null, 10_000);
    assert.equal(hasAuth(w.box), false);
  });
});
