// What the caller's shell exported must not change a test's result: many Codex users export
// CODEX_HOME, and CODEXD_* settings, proxies, CA files or NODE_OPTIONS would each point a test's
// processes somewhere else. Every test file (through helpers.ts) takes them out of its own
// environment, so that the in-process clients and every process started without an environment
// of its own see none of them. The suite's own knobs (CODEXD_HARDENING_*, CODEXD_FUZZ_*) stay.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The variables a test never takes from its caller. */
export const CALLERS_ONLY = /^(CODEX_HOME|CODEX_CA_CERTIFICATE|SSL_CERT_FILE|SSL_CERT_DIR|NODE_EXTRA_CA_CERTS|OPENAI_API_KEY|NODE_OPTIONS|(HTTPS?|ALL|NO)_PROXY|XDG_CONFIG_HOME|XDG_STATE_HOME|XDG_CACHE_HOME|CODEXD_(?!HARDENING_|FUZZ_).*)$/i;

/** `env` without the caller's variables. */
export function withoutCallers(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !CALLERS_ONLY.test(name)));
}

for (const name of Object.keys(process.env)) if (CALLERS_ONLY.test(name)) delete process.env[name];
// The in-process clients read the settings file too: one that is not there. Whatever else the
// test process starts may create it (Chromium keeps its profile there): it goes at exit.
const noSettings = join(tmpdir(), `cxd-no-settings-${process.pid}`);
process.env['XDG_CONFIG_HOME'] = noSettings;
process.on('exit', () => rmSync(noSettings, { recursive: true, force: true }));
