// `npm run bench`: codexd's performance figures, each beside its goal. It starts its own codexd
// daemons in a temporary folder, against an in-process fake OAuth issuer, and never touches
// the user's own daemon, socket or auth.json.
//
//   npm run bench                 the full run (about 3 minutes on 2 cores)
//   npm run bench -- --quick      fewer and shorter runs (about 75 s)
//   npm run -s bench -- --json    the figures as JSON on stdout (progress goes to stderr)
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { startFakeIssuer } from '../support/fake-issuer.js';
import { VERSION } from '../shared/version.js';
import { bridgeBench } from './bridge.js';
import { coldStartBench } from './coldstart.js';
import { latencyBench } from './latency.js';
import { libraryBench } from './library.js';
import { benchRoot, removeRoot, sandbox, startDaemon, startEchoServer, writeLogin, type Figure, type Proc } from './lib.js';
import { resourceBench } from './resources.js';
import { coalescingBench, propagationBench } from './refresh.js';
import { startupBench } from './startup.js';
import { usageBench } from './usage.js';

const HELP = `npm run bench [-- --quick] [-- --json]

Starts its own codexd (temporary folders, fake OAuth issuer in-process) and prints every
figure with its goal: the median of several runs after a warm-up, with min and max.

  --quick   fewer and shorter runs (about 75 s instead of about 3 minutes)
  --json    print the results as JSON on stdout instead of the table
  --only G  run only these groups (comma-separated: latency, coldstart, startup,
            propagation, coalescing, resources, bridge, usage, library)
  -h, --help`;

interface Plan {
  latency: { concurrency: number[]; runs: number; runMs: number };
  coldStart: { warmup: number; runs: number };
  startup: { warmup: number; runs: number };
  propagation: { warmup: number; runs: number };
  coalescing: { ns: number[]; warmup: number; runs: number };
  resources: { runs: number; requests: number; clients: number; idleS: number; quietS: number };
  bridge: { rounds: number; messages: number };
  usage: { accounts: number; warmup: number; runs: number };
  library: { warmup: number; runs: number };
}

const FULL: Plan = {
  latency: { concurrency: [1, 16, 64], runs: 5, runMs: 1000 },
  coldStart: { warmup: 3, runs: 31 },
  startup: { warmup: 1, runs: 11 },
  propagation: { warmup: 1, runs: 7 },
  coalescing: { ns: [1, 100, 1000], warmup: 1, runs: 5 },
  resources: { runs: 3, requests: 100_000, clients: 16, idleS: 30, quietS: 10 },
  bridge: { rounds: 6, messages: 3000 },
  usage: { accounts: 5, warmup: 2, runs: 21 },
  library: { warmup: 2, runs: 15 },
};

const QUICK: Plan = {
  latency: { concurrency: [1, 16, 64], runs: 3, runMs: 500 },
  coldStart: { warmup: 2, runs: 11 },
  startup: { warmup: 1, runs: 5 },
  propagation: { warmup: 1, runs: 3 },
  coalescing: { ns: [1, 100, 1000], warmup: 1, runs: 3 },
  // The idle window is as long as in the full run: the kernel counts CPU time in 10 ms ticks.
  resources: { runs: 1, requests: 100_000, clients: 16, idleS: 30, quietS: 10 },
  bridge: { rounds: 2, messages: 2000 },
  usage: { accounts: 5, warmup: 1, runs: 9 },
  library: { warmup: 1, runs: 7 },
};

const GROUPS = ['latency', 'coldstart', 'startup', 'propagation', 'coalescing', 'resources', 'bridge', 'usage', 'library'] as const;

function parse(): { json: boolean; quick: boolean; only: Set<string> } {
  const { values } = parseArgs({
    options: { json: { type: 'boolean' }, quick: { type: 'boolean' }, only: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(`${HELP}\n`);
    process.exit(0);
  }
  const only = new Set(values.only ? values.only.split(',').map((g) => g.trim()) : GROUPS);
  for (const group of only) {
    if (!(GROUPS as readonly string[]).includes(group)) throw new Error(`unknown group "${group}"; one of ${GROUPS.join(', ')}`);
  }
  return { json: values.json ?? false, quick: values.quick ?? false, only };
}

function machine(): Record<string, string | number> {
  const cpu = cpus();
  return {
    cpus: cpu.length,
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    os: `${process.platform} ${release()}`,
    codexd: VERSION,
  };
}

function format(value: number, unit: string): string {
  if (!Number.isFinite(value)) return String(value);
  switch (unit) {
    case 'ms':
      return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(3);
    case 'req/s':
      return Math.round(value).toLocaleString('en-US');
    case 'count':
      return String(Math.round(value));
    case '×':
      return value.toFixed(2);
    default:
      return value.toFixed(1);
  }
}

/** A Markdown table: readable in a terminal, and pasted as is into docs/performance.md. */
function table(figures: Figure[]): string {
  const rows = [
    '| group | figure | median | min | max | goal | met |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
  ];
  let last = '';
  for (const f of figures) {
    const unit = f.unit === 'count' ? '' : ` ${f.unit}`;
    const name = f.note ? `${f.name} (${f.note})` : f.name;
    rows.push(
      `| ${f.group === last ? '' : f.group} | ${name} | ${format(f.value.median, f.unit)}${unit} | ${format(f.value.min, f.unit)} | ${format(f.value.max, f.unit)} | ${f.goal?.text ?? ''} | ${f.goal ? (f.goal.met ? 'met' : '**not met**') : ''} |`,
    );
    last = f.group;
  }
  return rows.join('\n');
}

async function main(): Promise<void> {
  const options = parse();
  const plan = options.quick ? QUICK : FULL;
  const started = Date.now();
  const progress = (label: string): void => {
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(3)} s] ${label}\n`);
  };
  const root = benchRoot();
  const issuer = await startFakeIssuer();
  const procs: Proc[] = [];
  const figures: Figure[] = [];
  try {
    // The daemon most figures use: a fresh ChatGPT login, the default refresh margin.
    const primary = sandbox(root, 'main', { CODEXD_ISSUER: issuer.url });
    writeLogin(issuer, primary.codexHome);
    const daemon = await startDaemon(primary);
    procs.push(daemon);

    if (options.only.has('latency')) {
      // The baseline listens in the same folder as codexd's own socket.
      const baselineSocket = join(dirname(primary.socket), 'echo.sock');
      const echo = await startEchoServer(baselineSocket);
      procs.push(echo);
      figures.push(...(await latencyBench({ codexdSocket: primary.socket, baselineSocket, ...plan.latency, progress })));
      await echo.stop();
    }
    if (options.only.has('coldstart')) figures.push(...(await coldStartBench({ env: primary.env, ...plan.coldStart, progress })));
    if (options.only.has('propagation')) figures.push(...(await propagationBench({ issuer, box: primary, ...plan.propagation, progress })));
    if (options.only.has('coalescing')) {
      const box = sandbox(root, 'coalesce', { CODEXD_ISSUER: issuer.url, CODEXD_REFRESH_MARGIN_S: '0' });
      writeLogin(issuer, box.codexHome);
      const coalescing = await startDaemon(box);
      procs.push(coalescing);
      figures.push(...(await coalescingBench({ issuer, box, daemonPid: coalescing.pid, connections: 20, ...plan.coalescing, progress })));
      await coalescing.stop();
    }
    if (options.only.has('bridge')) figures.push(...(await bridgeBench({ box: primary, ...plan.bridge, progress })));
    if (options.only.has('usage')) figures.push(...(await usageBench({ issuer, root, ...plan.usage, progress })));
    if (options.only.has('library')) figures.push(...(await libraryBench({ env: primary.env, ...plan.library, progress })));
    await daemon.stop();
    if (options.only.has('startup')) figures.push(...(await startupBench({ issuer, root, ...plan.startup, progress })));
    if (options.only.has('resources')) figures.push(...(await resourceBench({ issuer, root, ...plan.resources, progress })));
  } finally {
    for (const proc of procs) await proc.stop();
    await issuer.close();
    removeRoot(root);
  }

  const withGoals = figures.filter((f) => f.goal);
  const met = withGoals.filter((f) => f.goal!.met).length;
  const seconds = Math.round((Date.now() - started) / 1000);
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ machine: machine(), mode: options.quick ? 'quick' : 'full', seconds, goalsMet: met, goals: withGoals.length, figures }, null, 2)}\n`);
    return;
  }
  const m = machine();
  process.stdout.write(
    `\ncodexd ${m['codexd']} on ${m['cpus']} × ${m['cpuModel']}, ${m['memoryGiB']} GiB, Node ${m['node']}, ${m['os']}` +
      ` (${options.quick ? 'quick' : 'full'} run, ${seconds} s)\n\n${table(figures)}\n\n${met} of ${withGoals.length} goals met.\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench: ${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});
