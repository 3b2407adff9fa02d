// `codex-auth app-server` relay cost (issue 23): the round trip of one JSON-RPC message through
// the bridge to a stand-in app-server that echoes JSONL (support/stand-in-app-server.ts), against
// the same stand-in spoken to directly, in alternating rounds. One message in flight at a time;
// the goal is on the difference of the medians' p50s.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { atMost, cliBin, figure, percentile, root, type Figure, type Sandbox } from './lib.js';

export interface BridgeBenchOptions {
  /** A sandbox whose codexd holds a ChatGPT login (the bridge logs the stand-in in with it). */
  box: Sandbox;
  rounds: number;
  messages: number;
  progress(label: string): void;
}

const WARMUP_MESSAGES = 300;

/** A line reader on a child's stdout: resolves the next line that satisfies `match`. */
function lines(child: ChildProcess): (match: (line: string) => boolean) => Promise<string> {
  let buffer = '';
  let waiting: { match: (line: string) => boolean; resolve: (line: string) => void } | null = null;
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('utf8');
    let newline;
    while ((newline = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (waiting?.match(line)) {
        const { resolve } = waiting;
        waiting = null;
        resolve(line);
      }
    }
  });
  return (match) => new Promise((resolve) => (waiting = { match, resolve }));
}

/** Per-message round-trip times (ms) through `command args`, after its handshake and a warm-up. */
async function roundTrips(command: string, args: string[], env: NodeJS.ProcessEnv, messages: number): Promise<number[]> {
  const child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'ignore'] });
  const next = lines(child);
  const send = (message: object): void => void child.stdin!.write(`${JSON.stringify(message)}\n`);
  send({ id: 0, method: 'initialize', params: { clientInfo: { name: 'bench', version: '1' }, capabilities: { experimentalApi: true } } });
  await next((line) => line.startsWith('{"id":0'));
  send({ method: 'initialized' });
  // A message of an editor's usual size, which the bridge has no reason to read.
  const params = { threadId: 'thr_0123456789abcdef', input: [{ type: 'text', text: 'x'.repeat(400) }], cwd: '/home/me/project' };
  const times: number[] = [];
  for (let i = 1; i <= WARMUP_MESSAGES + messages; i++) {
    const id = `m${i}`;
    const started = process.hrtime.bigint();
    const echoed = next((line) => line.startsWith(`{"id":"${id}"`));
    send({ id, method: 'turn/start', params });
    await echoed;
    if (i > WARMUP_MESSAGES) times.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  child.stdin!.end();
  await new Promise((resolve) => child.once('close', resolve));
  return times;
}

export async function bridgeBench(options: BridgeBenchOptions): Promise<Figure[]> {
  const standIn = join(options.box.dir, 'stand-in-codex');
  writeFileSync(standIn, `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(root, 'dist', 'support', 'stand-in-app-server.js'))} "$@"\n`);
  chmodSync(standIn, 0o700);
  const p50 = { direct: [] as number[], bridge: [] as number[] };
  const diff: number[] = [];
  for (let r = 0; r < options.rounds; r++) {
    options.progress(`app-server bridge: round ${r + 1}/${options.rounds}`);
    const direct = (): Promise<number[]> => roundTrips(standIn, ['app-server'], options.box.env, options.messages);
    const bridged = (): Promise<number[]> => roundTrips(process.execPath, [cliBin, 'app-server', '--codex', standIn], options.box.env, options.messages);
    let a: number[];
    let b: number[];
    if (r % 2 === 0) {
      a = await direct();
      b = await bridged();
    } else {
      b = await bridged();
      a = await direct();
    }
    p50.direct.push(percentile(a, 50));
    p50.bridge.push(percentile(b, 50));
    diff.push(percentile(b, 50) - percentile(a, 50));
  }
  const group = 'codex-auth app-server relay (one message in flight)';
  return [
    figure(group, 'direct to a stand-in app-server, round-trip p50', 'ms', p50.direct),
    figure(group, 'through codex-auth app-server, round-trip p50', 'ms', p50.bridge),
    figure(group, 'added by the bridge (p50 through − p50 direct, per round)', 'ms', diff, atMost(0.1, '≤ 0.1 ms')),
  ];
}
