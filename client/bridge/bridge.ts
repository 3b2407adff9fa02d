// `codex-auth app-server`: runs `codex app-server` and relays its newline-delimited JSON-RPC
// between the host (an editor, on our stdin/stdout) and the app-server, unchanged except where
// codexd takes over the login (docs/editors.md):
//  - the app-server keeps its login in memory only (`cli_auth_credentials_store = "ephemeral"`):
//    it never reads, refreshes or writes auth.json, which stays codexd's;
//  - the host's `initialize` gets `capabilities.experimentalApi: true`, which Codex requires for
//    host-managed tokens;
//  - right after the handshake, before any later host message goes through, the app-server is
//    logged in with codexd's credential (`account/login/start` of type `chatgptAuthTokens`, or
//    `apiKey` for an API key);
//  - Codex's `account/chatgptAuthTokens/refresh` is answered here from codexd and never reaches
//    the host; every new codexd token for the account is pushed before the old one expires;
//  - the host's sign-ins and logout go to codexd, whose result is injected.
// The host's stream goes through `fromHost`, the app-server's through `fromServer`; every change
// of the app-server's login goes through `serial`, one at a time.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Readable, Writable } from 'node:stream';
import { CodexdError, type CodexdClient, type LoginStartParams, type Status } from '../index.js';
import { AccountCredential, type Credential, type HostTokens } from './credential.js';
import { ACCOUNT_MARK, CodexMethods, EPHEMERAL_LOGIN, HANDSHAKE_MARK, type CodexLoginCompleted, type CodexLoginParams, type CodexTokensRefreshResult } from './codex-protocol.js';
import { lineRelay, type LineRelay, type Message } from './lines.js';

export interface BridgeOptions {
  /** The Codex executable and the arguments after `app-server`. */
  codex: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  codexd: CodexdClient;
  /** An account's name; undefined follows codexd's active account. */
  account: string | undefined;
  /** The host's side: its requests arrive on `input`, everything for it goes to `output`. */
  input: Readable;
  output: Writable;
  /** One line for the user (stderr). */
  report(line: string): void;
  /** How long the app-server gets to answer the bridge's own requests (its login, its logout). */
  answerMs: number;
}

/** Ids of the bridge's own requests to the app-server; no host uses this prefix. */
const OWN_ID = 'codexd-bridge:';
/** The pushed token is renewed this long before it expires, if codexd has not announced a new one by then. */
const RENEW_BEFORE_EXPIRY_MS = 120_000;
/** After the host closes stdin, the app-server gets this long to exit before SIGTERM. */
const EXIT_GRACE_MS = 5000;
/** A Node timer fires at once beyond this. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** A JSON-RPC error code for the host and Codex: "the server could not do it" (JSON-RPC's server error range). */
const BRIDGE_ERROR = -32000;


/** What the app-server holds from us. */
type Pushed = { kind: 'chatgpt'; tokens: HostTokens } | { kind: 'apiKey'; apiKey: string };

/**
 * `to` is full: `from` is paused until it drains, so that a side that stops reading (an editor
 * that hangs, an app-server stuck in a turn) holds back the side that writes to it, through the
 * pipes, instead of filling the bridge's memory.
 */
function holdBack(from: Readable, to: Writable): void {
  if (from.isPaused()) return;
  from.pause();
  to.once('drain', () => from.resume());
}

/** Runs the bridge until the app-server ends; resolves with the exit status for the bridge. */
export async function runBridge(options: BridgeOptions): Promise<number> {
  const bridge = new Bridge(options);
  return bridge.run();
}

class Bridge {
  private readonly credential: AccountCredential;
  private child!: ChildProcess;
  private fromHost!: LineRelay;
  private fromServer!: LineRelay;
  /**
   * The host's text held while the first login goes in, null when not holding: `look` for lines
   * the bridge reads when they go on, the rest (passed on unread) goes on as it came.
   */
  private held: { text: string; look: boolean }[] | null = null;
  private handshake: 'waiting' | 'initializing' | 'done' = 'waiting';
  /** The credential the app-server holds from us; null when it holds none. */
  private pushed: Pushed | null = null;
  /** The account's token as codexd last announced it (AccountCredential.version). */
  private seenVersion = '';
  private readonly own = new Map<string, (reply: Message) => void>();
  private ownSequence = 0;
  /** `account/login/completed` (loginId null) the app-server still owes for our own logins: not the host's business. */
  private owedCompletions = 0;
  /** Sign-ins the host started, which codexd runs. */
  private readonly hostLogins = new Set<string>();
  /** Every change of the app-server's login, one at a time. */
  private serial: Promise<unknown> = Promise.resolve();
  private renewTimer: NodeJS.Timeout | undefined;
  private hostClosed = false;
  private explainedNoLogin = false;
  /** codexd's credential as read at start, for the login after the handshake; null once stale or used. */
  private firstLogin: Credential | null = null;

  constructor(private readonly options: BridgeOptions) {
    this.credential = new AccountCredential(options.codexd, options.account);
  }

  async run(): Promise<number> {
    const { codexd } = this.options;
    codexd.onAccountUpdated((status) => this.accountUpdated(status));
    codexd.onLoginCompleted((event) => void this.loginCompleted(event.loginId, event.success, event.error));
    codexd.onDisconnected(() => this.report('codexd went away; Codex keeps the current token until codexd is back'));
    this.seenVersion = this.credential.version(await codexd.read());
    this.firstLogin = await this.credential.fetch();
    const exited = this.start();
    this.hostStream();
    this.serverStream();
    const status = await exited;
    clearTimeout(this.renewTimer);
    return status;
  }

  // ---- processes and streams -------------------------------------------------------------

  /** Spawns the app-server; resolves with the bridge's exit status when it has ended. */
  private start(): Promise<number> {
    const { codex, args, env } = this.options;
    this.child = spawn(codex, [...EPHEMERAL_LOGIN, 'app-server', ...args], { env, stdio: ['pipe', 'pipe', 'inherit'] });
    this.child.stdin!.on('error', () => undefined); // the app-server died: its exit ends the bridge
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => this.child.kill(signal));
    return new Promise((resolve) => {
      this.child.once('error', (error: NodeJS.ErrnoException) => {
        this.report(`cannot run ${codex} app-server: ${error.code === 'ENOENT' ? 'not found' : error.message}; install Codex (npm install -g @openai/codex) or give its path with --codex`);
        resolve(1);
      });
      this.child.once('close', (code, signal) => resolve(code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0)));
    });
  }

  private hostStream(): void {
    const { input, output } = this.options;
    this.fromHost = lineRelay(
      (text) => text.includes(ACCOUNT_MARK) || (this.handshake !== 'done' && text.includes(HANDSHAKE_MARK)),
      (text) => this.toServer(text),
      (message, raw) => this.hostMessage(message, raw),
    );
    input.on('data', (chunk: Buffer) => this.fromHost.push(chunk));
    input.on('end', () => this.hostGone());
    input.on('error', () => this.hostGone());
    output.on('error', () => {
      // Nobody reads the app-server's output any more: let it through (to nowhere), so that an
      // app-server held back by it can end.
      this.child.stdout!.resume();
      this.hostGone();
    });
  }

  private serverStream(): void {
    this.fromServer = lineRelay(
      (text) => text.includes(ACCOUNT_MARK) || (this.own.size > 0 && text.includes(OWN_ID)),
      (text) => this.toHost(text),
      (message, raw) => this.serverMessage(message, raw),
    );
    this.child.stdout!.on('data', (chunk: Buffer) => this.fromServer.push(chunk));
    this.child.stdout!.on('end', () => this.fromServer.end());
  }

  /** The host closed its side: the app-server's stdin is closed once the held lines are through, and it gets a grace period to exit. */
  private hostGone(): void {
    if (this.hostClosed) return;
    this.hostClosed = true;
    this.fromHost.end();
    void this.serial.then(() => {
      this.child.stdin!.end();
      setTimeout(() => this.child.kill('SIGTERM'), EXIT_GRACE_MS).unref();
    });
  }

  private toServer(text: string): void {
    if (this.held) this.held.push({ text, look: false });
    else if (!this.child.stdin!.write(text)) holdBack(this.options.input, this.child.stdin!);
  }

  private toHost(text: string): void {
    const { output } = this.options;
    if (output.writable && !output.write(text)) holdBack(this.child.stdout!, output);
  }

  private send(message: Message): void {
    this.child.stdin!.write(`${JSON.stringify(message)}\n`);
  }

  private reply(id: Message['id'], outcome: { result: unknown } | { error: { code: number; message: string } }): void {
    this.toHost(`${JSON.stringify({ id, ...outcome })}\n`);
  }

  /**
   * A request of the bridge's own to the app-server; resolves with its reply, or with an error
   * reply when none comes in time: an app-server that never answers must not hold the host's
   * lines (and the bridge's exit) for ever.
   */
  private request(method: string, params?: unknown): Promise<Message> {
    const id = `${OWN_ID}${++this.ownSequence}`;
    const { answerMs } = this.options;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.own.delete(id);
        resolve({ id, error: { code: BRIDGE_ERROR, message: `it did not answer within ${answerMs / 1000} s` } });
      }, answerMs);
      timer.unref();
      this.own.set(id, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.send(params === undefined ? { id, method } : { id, method, params });
    });
  }

  private report(line: string): void {
    this.options.report(line);
  }

  // ---- the host's messages -----------------------------------------------------------------

  private hostMessage(message: Message | null, raw: string): void {
    const line = `${raw}\n`;
    if (this.held) {
      this.held.push({ text: line, look: true });
      return;
    }
    const method = message?.method;
    if (method === CodexMethods.initialize && message!.id !== undefined && this.handshake === 'waiting') {
      this.handshake = 'initializing';
      this.toServer(`${JSON.stringify(withExperimentalApi(message!, () => this.report('turned on capabilities.experimentalApi in initialize: Codex takes codexd\'s tokens only with it')))}\n`);
      return;
    }
    if (method === CodexMethods.initialized && message!.id === undefined && this.handshake !== 'done') {
      this.toServer(line);
      this.handshake = 'done';
      this.holdFor(this.afterHandshake());
      return;
    }
    if (message?.id !== undefined && method === CodexMethods.loginStart) return this.hostLogin(message, line);
    if (message?.id !== undefined && method === CodexMethods.loginCancel) return this.hostCancel(message, line);
    if (message?.id !== undefined && method === CodexMethods.logout) return this.hostLogout(message);
    this.toServer(line);
  }

  /** Holds every later host line until `work` is done, then lets them through in order. */
  private holdFor(work: Promise<unknown>): void {
    this.held = [];
    const release = (): void => {
      const held = this.held ?? [];
      this.held = null;
      for (const { text, look } of held) {
        if (look) this.fromHost.lines(text);
        else this.toServer(text);
      }
    };
    this.serial = this.serial.then(() => work).then(release, release);
  }

  private async afterHandshake(): Promise<void> {
    const first = this.firstLogin;
    this.firstLogin = null;
    await this.apply(first ?? (await this.fetchOrReport()));
  }

  private hostLogin(message: Message, line: string): void {
    const params = (message.params ?? {}) as { type?: unknown; apiKey?: unknown };
    const named = this.options.account === undefined ? {} : { name: this.options.account };
    let start: LoginStartParams;
    if (params.type === 'chatgpt') start = { type: 'chatgpt', openBrowser: false, ...named };
    else if (params.type === 'chatgptDeviceCode') start = { type: 'chatgptDeviceCode', ...named };
    else if (params.type === 'apiKey' && typeof params.apiKey === 'string') return this.hostApiKey(message, params.apiKey);
    else if (params.type === 'chatgptAuthTokens') {
      this.reply(message.id, { error: { code: BRIDGE_ERROR, message: 'codex-auth app-server gives this app-server codexd\'s tokens; sign in through account/login/start chatgpt or chatgptDeviceCode, or with codex-auth login' } });
      return;
    } else return this.toServer(line);
    void this.options.codexd.loginStart(start).then(
      (started) => {
        if (started.type === 'apiKey') return;
        this.hostLogins.add(started.loginId);
        const result =
          started.type === 'chatgpt'
            ? { type: 'chatgpt', loginId: started.loginId, authUrl: started.authUrl }
            : { type: 'chatgptDeviceCode', loginId: started.loginId, verificationUrl: started.verificationUrl, userCode: started.userCode };
        this.reply(message.id, { result });
      },
      (error: unknown) => this.reply(message.id, { error: { code: BRIDGE_ERROR, message: `codexd could not start the sign-in: ${messageOf(error)}` } }),
    );
  }

  /** An API key is stored by codexd (as the active account), then given to the app-server. */
  private hostApiKey(message: Message, apiKey: string): void {
    void this.options.codexd.loginStart({ type: 'apiKey', apiKey, ...(this.options.account === undefined ? {} : { name: this.options.account }) }).then(
      async () => {
        this.sync();
        await this.serial;
        this.reply(message.id, { result: { type: 'apiKey' } });
      },
      (error: unknown) => this.reply(message.id, { error: { code: BRIDGE_ERROR, message: `codexd could not store the API key: ${messageOf(error)}` } }),
    );
  }

  private hostCancel(message: Message, line: string): void {
    const loginId = (message.params as { loginId?: unknown } | undefined)?.loginId;
    if (typeof loginId !== 'string' || !this.hostLogins.has(loginId)) return this.toServer(line);
    void this.options.codexd.loginCancel(loginId).then(
      (result) => this.reply(message.id, { result: { status: result.status } }),
      (error: unknown) => this.reply(message.id, { error: { code: BRIDGE_ERROR, message: `codexd could not cancel the sign-in: ${messageOf(error)}` } }),
    );
  }

  /** The host's logout logs the account out of codexd, then out of the app-server. */
  private hostLogout(message: Message): void {
    this.serial = this.serial.then(async () => {
      try {
        await this.options.codexd.logout(this.options.account === undefined ? {} : { name: this.options.account });
      } catch (error) {
        this.reply(message.id, { error: { code: BRIDGE_ERROR, message: `codexd could not log out: ${messageOf(error)}` } });
        return;
      }
      this.explainedNoLogin = true; // the host knows: it asked
      await this.clear();
      this.reply(message.id, { result: {} });
    });
  }

  // ---- the app-server's messages -----------------------------------------------------------

  private serverMessage(message: Message | null, raw: string): void {
    const id = message?.id;
    if (typeof id === 'string' && message!.method === undefined && this.own.has(id)) {
      const resolve = this.own.get(id)!;
      this.own.delete(id);
      resolve(message!);
      return;
    }
    if (message?.method === CodexMethods.tokensRefresh && id !== undefined) {
      void this.answerRefresh(id);
      return;
    }
    if (message?.method === CodexMethods.loginCompleted && (message.params as { loginId?: unknown } | undefined)?.loginId === null && this.owedCompletions > 0) {
      this.owedCompletions -= 1;
      return;
    }
    this.toHost(`${raw}\n`);
  }

  /** Codex got a 401 with our token: codexd's current one, refreshed first if Codex rejected that very token. */
  private async answerRefresh(id: string | number | null): Promise<void> {
    const rejected = this.pushed?.kind === 'chatgpt' ? this.pushed.tokens.accessToken : undefined;
    try {
      let credential = await this.credential.fetch();
      if (credential.kind === 'chatgpt' && credential.tokens.accessToken === rejected) credential = await this.credential.fetch(true);
      if (credential.kind !== 'chatgpt') {
        const why = credential.kind === 'apiKey' ? 'the account is now an API key' : credential.why;
        this.report(`Codex asked for a new token, and codexd has none: ${why}`);
        this.send({ id, error: { code: BRIDGE_ERROR, message: `codexd has no token: ${why}` } });
        return;
      }
      this.pushed = { kind: 'chatgpt', tokens: credential.tokens };
      this.scheduleRenewal();
      const { accessToken, chatgptAccountId, chatgptPlanType } = credential.tokens;
      const result: CodexTokensRefreshResult = { accessToken, chatgptAccountId, chatgptPlanType };
      this.send({ id, result });
    } catch (error) {
      this.report(`Codex asked for a new token, and codexd could not give one: ${messageOf(error)}`);
      this.send({ id, error: { code: BRIDGE_ERROR, message: `codexd could not give a new token: ${messageOf(error)}` } });
    }
  }

  // ---- codexd's side -----------------------------------------------------------------------

  private accountUpdated(status: Status): void {
    const version = this.credential.version(status);
    if (version === this.seenVersion) return;
    this.seenVersion = version;
    this.firstLogin = null;
    this.sync();
  }

  /** Brings the app-server's login in line with codexd's (after the handshake; before it, the first login takes care of it). */
  private sync(): void {
    if (this.handshake !== 'done') return;
    this.serial = this.serial.then(async () => this.apply(await this.fetchOrReport()));
  }

  private async loginCompleted(loginId: string, success: boolean, error: string | null): Promise<void> {
    if (!this.hostLogins.delete(loginId)) return;
    if (success) this.sync();
    await this.serial;
    const params: CodexLoginCompleted = { loginId, success, error, onboardingEntrypoint: null };
    this.toHost(`${JSON.stringify({ method: CodexMethods.loginCompleted, params })}\n`);
  }

  private async fetchOrReport(): Promise<Credential | null> {
    try {
      return await this.credential.fetch();
    } catch (error) {
      this.report(`could not get codexd's token: ${messageOf(error)}`);
      return null;
    }
  }

  /** Gives the app-server `credential` unless it holds it already; no login takes ours back. */
  private async apply(credential: Credential | null): Promise<void> {
    if (credential === null) return;
    if (credential.kind === 'chatgpt') {
      if (this.pushed?.kind !== 'chatgpt' || this.pushed.tokens.accessToken !== credential.tokens.accessToken) await this.push(credential);
      return;
    }
    if (credential.kind === 'apiKey') {
      if (this.pushed?.kind !== 'apiKey' || this.pushed.apiKey !== credential.apiKey) await this.push(credential);
      return;
    }
    if (!this.explainedNoLogin) {
      this.explainedNoLogin = true;
      this.report(`codexd has no login to give Codex (${credential.why.replace(/\.$/, '')}); sign in from your editor or with codex-auth login`);
    }
    await this.clear();
  }

  private async push(credential: Pushed): Promise<void> {
    // Codex takes no other login over host-managed tokens: those go first.
    if (credential.kind === 'apiKey' || this.pushed?.kind === 'apiKey') await this.clear();
    this.owedCompletions += 1;
    const params: CodexLoginParams =
      credential.kind === 'chatgpt'
        ? { type: 'chatgptAuthTokens', accessToken: credential.tokens.accessToken, chatgptAccountId: credential.tokens.chatgptAccountId, chatgptPlanType: credential.tokens.chatgptPlanType }
        : { type: 'apiKey', apiKey: credential.apiKey };
    const reply = await this.request(CodexMethods.loginStart, params);
    if (reply.error) {
      this.owedCompletions -= 1;
      this.report(`Codex did not take codexd's ${credential.kind === 'chatgpt' ? 'token' : 'API key'}: ${reply.error.message}`);
      return;
    }
    this.pushed = credential;
    this.explainedNoLogin = false;
    this.scheduleRenewal();
  }

  /** Takes our login back from the app-server (in memory only: auth.json is not Codex's here). */
  private async clear(): Promise<void> {
    if (!this.pushed) return;
    this.pushed = null;
    clearTimeout(this.renewTimer);
    const reply = await this.request(CodexMethods.logout);
    if (reply.error) this.report(`Codex did not drop codexd's token: ${reply.error.message}`);
  }

  /** A backstop for a missed announcement: before the pushed token expires, ask codexd again (it refreshes when due). */
  private scheduleRenewal(): void {
    clearTimeout(this.renewTimer);
    const expiresAtMs = this.pushed?.kind === 'chatgpt' ? this.pushed.tokens.expiresAtMs : null;
    if (expiresAtMs == null) return;
    const delay = Math.min(Math.max(expiresAtMs - RENEW_BEFORE_EXPIRY_MS - Date.now(), 0), MAX_TIMER_MS);
    this.renewTimer = setTimeout(() => this.sync(), delay);
    this.renewTimer.unref();
  }
}

/** The host's initialize with `capabilities.experimentalApi` on; `turnedOn` is called when it was off. */
function withExperimentalApi(message: Message, turnedOn: () => void): Message {
  const params = (typeof message.params === 'object' && message.params !== null ? message.params : {}) as Record<string, unknown>;
  const capabilities = (typeof params['capabilities'] === 'object' && params['capabilities'] !== null ? params['capabilities'] : {}) as Record<string, unknown>;
  if (capabilities['experimentalApi'] === true) return message;
  turnedOn();
  return { ...message, params: { ...params, capabilities: { ...capabilities, experimentalApi: true } } };
}

function messageOf(error: unknown): string {
  return error instanceof CodexdError || error instanceof Error ? error.message : String(error);
}
