// `codex-auth login` in all its forms. The daemon runs the flow; this prints what the person
// needs, opens the browser when there is one, and waits for the daemon to say how it ended.
import { CodexdError, type CodexdClient } from '../index.js';
import type { LoginCompleted, LoginStartResult } from '../../shared/protocol.js';
import { maskApiKey, printable } from './format.js';
import { askHidden, choose, spinner } from './terminal.js';
import { UsageError } from './usage.js';

export { UsageError };

export interface LoginOptions {
  deviceAuth: boolean;
  withApiKey: boolean;
  apiKey: string | undefined;
  noBrowser: boolean;
  /** Labels the account (`--name`). */
  name: string | undefined;
}

/** Why the browser will not be opened on this machine, or null when it can be. */
export function whyNoBrowser(env: NodeJS.ProcessEnv = process.env): string | null {
  if (env['SSH_CONNECTION'] || env['SSH_TTY']) return 'this is an SSH session';
  if (process.platform === 'linux' && !env['DISPLAY'] && !env['WAYLAND_DISPLAY']) return 'there is no display (DISPLAY and WAYLAND_DISPLAY are unset)';
  return null;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

/** The line after a login: which account it is saved as, and that it is the active one now. */
async function savedAs(client: CodexdClient, replacedKey: boolean): Promise<string> {
  const active = (await client.read()).accounts.find((account) => account.active);
  if (!active) return '';
  const what = replacedKey ? `Replaced the API key of account ${active.name}` : `Account ${active.name}`;
  return `${printable(`${what}, now the active one (the one Codex uses)`)}\n`;
}

async function loginWithKey(client: CodexdClient, key: string, name: string | undefined): Promise<number> {
  if (!key) throw new UsageError('no API key given; nothing was changed');
  if (/\s/.test(key)) throw new UsageError('the API key has whitespace inside it; nothing was changed');
  // A name that an API-key account has already: this login gives that account the new key.
  const replacing = name !== undefined && (await client.accounts()).some((account) => account.name === name && account.type === 'apiKey');
  const result = await client.loginStart({ type: 'apiKey', apiKey: key, ...(name === undefined ? {} : { name }) });
  process.stdout.write(`Logged in using an API key - ${maskApiKey(key)}\n${await savedAs(client, replacing)}`);
  reportMovedAside(result.type === 'apiKey' ? result.movedAside : undefined);
  return 0;
}

/** A login that replaced an unusable auth.json says where it went, as logout does. */
function reportMovedAside(movedAside: string | undefined): void {
  if (movedAside) process.stdout.write(`The auth.json it replaced could not be used; it was moved to ${printable(movedAside)}\n`);
}

export async function login(client: CodexdClient, options: LoginOptions): Promise<number> {
  if (options.withApiKey) {
    if (process.stdin.isTTY) {
      throw new UsageError('--with-api-key expects the API key on stdin. Try: printenv OPENAI_API_KEY | codex-auth login --with-api-key');
    }
    return loginWithKey(client, await readStdin(), options.name);
  }
  if (options.apiKey !== undefined) {
    process.stderr.write('codex-auth: Warning: --api-key puts the key in your shell history and in `ps` output. Prefer: printenv OPENAI_API_KEY | codex-auth login --with-api-key\n');
    return loginWithKey(client, options.apiKey.trim(), options.name);
  }
  if (options.deviceAuth) return waitForLogin(client, 'chatgptDeviceCode', options);
  if (process.stdin.isTTY && process.stderr.isTTY) {
    // A follower refuses every login: say so before asking how to sign in.
    const { upstream } = await client.read();
    if (upstream) {
      process.stderr.write(`codex-auth: Login failed: this codexd follows the upstream codexd on ${printable(upstream.path)}, where the login lives: run \`codex-auth login\` there.\n`);
      return 1;
    }
    // --no-browser leaves out the one item that would open a browser.
    const browser = whyNoBrowser() === null ? 'Sign in with ChatGPT (opens a browser)' : 'Sign in with ChatGPT (prints a URL to open in a browser elsewhere)';
    const methods = [
      ...(options.noBrowser ? [] : [{ label: browser, method: 'chatgpt' as const }]),
      { label: 'Sign in with a one-time device code (for SSH and headless machines)', method: 'chatgptDeviceCode' as const },
      { label: 'Paste an API key', method: 'apiKey' as const },
    ];
    const { method } = methods[await choose('How do you want to sign in to Codex?', methods.map((m) => m.label))]!;
    if (method === 'apiKey') return loginWithKey(client, await promptApiKey(), options.name);
    return waitForLogin(client, method, options);
  }
  return waitForLogin(client, 'chatgpt', options);
}

/** `codex-auth login --cancel`: ends whatever login is pending in the daemon. */
export async function cancelPendingLogin(client: CodexdClient): Promise<number> {
  const { login: pending } = await client.read();
  if (pending && (await client.loginCancel(pending.loginId)).status === 'canceled') {
    process.stdout.write(`Cancelled the pending ${pending.type === 'chatgpt' ? 'browser' : 'device-code'} login.\n`);
  } else {
    process.stdout.write('No login is pending.\n');
  }
  return 0;
}

/** Bold only on a terminal, and never with NO_COLOR set (no-color.org). */
function bold(text: string): string {
  return process.stdout.isTTY && !process.env['NO_COLOR'] ? `\u001b[1m${text}\u001b[0m` : text;
}

async function promptApiKey(): Promise<string> {
  const fromEnv = process.env['OPENAI_API_KEY']?.trim();
  const hint = fromEnv ? ` [Enter to use OPENAI_API_KEY ${maskApiKey(fromEnv)}]` : '';
  const typed = await askHidden(`API key (input hidden)${hint}: `);
  return typed || fromEnv || '';
}

function showDeviceCode(started: Extract<LoginStartResult, { type: 'chatgptDeviceCode' }>): void {
  const minutes = Math.max(1, Math.round((Date.parse(started.expiresAt) - Date.now()) / 60_000));
  process.stdout.write(
    `\nFollow these steps to sign in with ChatGPT using device code authorization:\n\n` +
      `1. Open this link in your browser and sign in to your account\n   ${printable(started.verificationUrl)}\n\n` +
      `2. Enter this one-time code (expires in ${minutes} minutes)\n   ${bold(printable(started.userCode))}\n\n` +
      `Device codes are a common phishing target. Never share this code.\n\n`,
  );
}

/** Opens the browser on the login URL, or says why not and how to sign in without it. */
async function showBrowserLogin(started: Extract<LoginStartResult, { type: 'chatgpt' }>, options: LoginOptions): Promise<void> {
  const port = new URL(new URL(started.authUrl).searchParams.get('redirect_uri') ?? 'http://localhost:1455').port;
  if (started.busyPort !== undefined) process.stdout.write(`Port ${started.busyPort} is in use (another \`codex login\` may be running); using port ${port} instead.\n`);
  process.stdout.write(`Starting local login server on http://localhost:${port}.\n`);
  const reason = options.noBrowser ? '--no-browser was given' : whyNoBrowser();
  if (reason === null) {
    process.stdout.write(`If your browser did not open, navigate to this URL to authenticate:\n\n${started.authUrl}\n\n`);
    const { default: open } = await import('open');
    await open(started.authUrl).catch(() => undefined);
    return;
  }
  process.stdout.write(
    `Not opening a browser: ${reason}.\nOpen this URL in a browser to sign in:\n\n${started.authUrl}\n\n` +
      `The browser must reach localhost:${port} on this machine. From another computer, forward the port first:\n` +
      `  ssh -L ${port}:localhost:${port} <this host>\n` +
      `or sign in without a callback: codex-auth login --device-auth\n\n`,
  );
}

type ChatGptLogin = 'chatgpt' | 'chatgptDeviceCode';

/** Collects `account/login/completed` events from before the login's id is known. */
interface Completions {
  /** The outcome of this login, or 'interrupted' on Ctrl-C. */
  outcome(loginId: string): Promise<LoginCompleted | 'interrupted'>;
  dispose(): void;
}

function listenForCompletions(client: CodexdClient): Completions {
  const early: LoginCompleted[] = [];
  let onCompleted: ((event: LoginCompleted) => void) | null = null;
  const subscription = client.onLoginCompleted((event) => (onCompleted ? onCompleted(event) : early.push(event)));
  return {
    outcome: (loginId) =>
      new Promise((resolve) => {
        const mine = early.find((event) => event.loginId === loginId);
        if (mine) resolve(mine);
        onCompleted = (event) => {
          if (event.loginId === loginId) resolve(event);
        };
        process.once('SIGINT', () => resolve('interrupted'));
      }),
    dispose: () => subscription.dispose(),
  };
}

/** Asks the daemon to start the login; on a refusal prints it and returns exit status 1. */
async function startLogin(client: CodexdClient, type: ChatGptLogin, name: string | undefined): Promise<LoginStartResult | 1> {
  // From the first request on: an issuer that never answers must not leave the terminal blank.
  // Off a terminal nothing is drawn; the device code's request, which waits on the issuer, is one
  // line on stdout, with the code's instructions (stderr keeps a failure to its one line).
  const what = type === 'chatgpt' ? 'Starting the login callback server' : `Asking ${printable((await client.serves()).issuer ?? 'the sign-in server')} for a one-time code`;
  const starting = process.stderr.isTTY ? spinner(what) : null;
  if (!starting && type === 'chatgptDeviceCode') process.stdout.write(`${what}...\n`);
  let started: LoginStartResult;
  try {
    const named = name === undefined ? {} : { name };
    started = await client.loginStart(type === 'chatgpt' ? { type, openBrowser: false, ...named } : { type, ...named });
  } catch (error) {
    starting?.stop();
    if (!(error instanceof CodexdError)) throw error;
    process.stderr.write(`codex-auth: Login failed: ${printable(error.message)}\n`);
    return 1;
  }
  starting?.stop();
  return started;
}

async function awaitOutcome(completions: Completions, loginId: string, type: ChatGptLogin): Promise<LoginCompleted | 'interrupted'> {
  const wait = spinner(type === 'chatgpt' ? 'Waiting for you to finish signing in in the browser (Ctrl-C to cancel)' : 'Waiting for you to enter the code (Ctrl-C to cancel)');
  try {
    return await completions.outcome(loginId);
  } finally {
    wait.stop();
  }
}

/** Prints how the login ended and returns the exit status. */
async function reportOutcome(client: CodexdClient, loginId: string, outcome: LoginCompleted | 'interrupted'): Promise<number> {
  if (outcome === 'interrupted') {
    await client.loginCancel(loginId).catch(() => undefined);
    process.stderr.write('codex-auth: Login cancelled.\n');
    return 130;
  }
  // Cancelled from another terminal (`codex-auth login --cancel`): the daemon says it in Codex's words.
  if (!outcome.success && outcome.error === 'Login was cancelled') {
    process.stderr.write('codex-auth: Login cancelled.\n');
    return 1;
  }
  if (!outcome.success) {
    process.stderr.write(`codex-auth: Login failed: ${printable(outcome.error ?? 'unknown error')}\n`);
    return 1;
  }
  const { account } = await client.read();
  const who = account?.type === 'chatgpt' ? `${account.email ?? 'unknown email'}${account.planType ? ` (${account.planType})` : ''}` : 'ChatGPT';
  process.stdout.write(`Logged in as ${printable(who)}\n${await savedAs(client, false)}`);
  reportMovedAside(outcome.movedAside);
  return 0;
}

async function waitForLogin(client: CodexdClient, type: ChatGptLogin, options: LoginOptions): Promise<number> {
  // Listen before starting, so a login that ends at once is not missed.
  const completions = listenForCompletions(client);
  try {
    const started = await startLogin(client, type, options.name);
    if (started === 1) return 1;
    if (started.type === 'apiKey') return 0;
    if (started.type === 'chatgptDeviceCode') showDeviceCode(started);
    else await showBrowserLogin(started, options);
    return await reportOutcome(client, started.loginId, await awaitOutcome(completions, started.loginId, type));
  } finally {
    completions.dispose();
  }
}
