// The protocol is declared once, in shared/protocol.ts, and the compiler holds both ends to it:
// no other production file spells a method name, and renaming a param or a result field there
// breaks the build of the daemon and of the CLI.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Notifications, Requests } from '../shared/protocol.js';
import { root } from './helpers.js';

const PRODUCTION = ['daemon', 'client', 'shared'];
const PROTOCOL = join('shared', 'protocol.ts');
const CODEX_PROTOCOL = join('client', 'bridge', 'codex-protocol.ts');

function sources(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => join(entry.parentPath, entry.name));
}

const scratchDirs: string[] = [];
after(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

/** Type-checks daemon/, client/ and shared/ after `edit` rewrote a copy of shared/protocol.ts; returns tsc's error lines. */
async function typeErrorsAfter(edit: (protocol: string) => string): Promise<string[]> {
  const scratch = mkdtempSync(join(tmpdir(), 'cxd-contract-'));
  scratchDirs.push(scratch);
  for (const dir of PRODUCTION) cpSync(join(root, dir), join(scratch, dir), { recursive: true });
  cpSync(join(root, 'package.json'), join(scratch, 'package.json')); // "type": "module", as in the real build
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'));
  const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { include: string[] };
  writeFileSync(join(scratch, 'tsconfig.json'), JSON.stringify({ ...tsconfig, include: PRODUCTION.map((dir) => `${dir}/**/*.ts`) }));
  const protocol = join(scratch, PROTOCOL);
  const before = readFileSync(protocol, 'utf8');
  const after = edit(before);
  assert.notEqual(after, before, 'the edit changed shared/protocol.ts');
  writeFileSync(protocol, after);
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  try {
    // Its own environment: a caller's NODE_OPTIONS (a small heap) must not end tsc before it reports.
    await promisify(execFile)(process.execPath, [tsc, '-p', scratch, '--noEmit', '--pretty', 'false'], { cwd: scratch, env: { PATH: process.env['PATH'] } });
    return [];
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    if (stdout === undefined) throw error;
    const errors = stdout.split('\n').filter((line) => / error TS\d+:/.test(line));
    if (errors.length === 0) throw new Error(`tsc failed without a type error: ${stderr ?? ''}${stdout}`);
    return errors;
  }
}

describe('the protocol contract', () => {
  it('shared/protocol.ts loads no JSON-RPC library and nothing that does I/O', () => {
    const imports = (file: string): string[] => [...readFileSync(join(root, 'shared', file), 'utf8').matchAll(/\bfrom '([^']+)'/g)].map((m) => m[1]!);
    assert.deepEqual(imports('protocol.ts').sort(), ['./errors.js', './framing.js']);
    assert.deepEqual(imports('errors.ts'), []);
    assert.deepEqual(imports('framing.ts'), []);
  });

  it('no production file outside shared/protocol.ts spells a method name', () => {
    const methods = [...Object.values(Requests), ...Object.values(Notifications)].map((def) => def.method);
    const quoted = new RegExp(`['"\`](${methods.map((m) => m.replace(/\//g, '\\/')).join('|')})['"\`]`);
    const offenders: string[] = [];
    for (const dir of PRODUCTION) {
      for (const file of sources(join(root, dir))) {
        // Codex's app-server protocol, which the bridge speaks, has methods of the same names.
        if (relative(root, file) === PROTOCOL || relative(root, file) === CODEX_PROTOCOL) continue;
        readFileSync(file, 'utf8')
          .split('\n')
          .forEach((line, i) => {
            const code = /^\s*(\/\/|\/?\*)/.test(line) ? '' : line.replace(/\s\/\/\s.*$/, '');
            if (quoted.test(code)) offenders.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
          });
      }
    }
    assert.ok(methods.includes('account/token') && methods.includes('account/updated'), 'the method names are read from the protocol');
    assert.deepEqual(offenders, []);
  });

  it('renaming a param (forceRefresh) or a result field (expiresAt) breaks the build of the daemon and of the CLI', { timeout: 240_000 }, async () => {
    for (const field of ['forceRefresh', 'expiresAt']) {
      const errors = await typeErrorsAfter((protocol) => protocol.replace(new RegExp(`\\b${field}\\b`, 'g'), `${field}Renamed`));
      assert.deepEqual(errors.filter((line) => !line.includes(field)), [], `every error is about ${field}`);
      assert.ok(errors.some((line) => line.startsWith('daemon/')), `renaming ${field} must break the daemon's build:\n${errors.join('\n')}`);
      assert.ok(errors.some((line) => line.startsWith('client/cli/')), `renaming ${field} must break the CLI's build:\n${errors.join('\n')}`);
    }
  });
});
