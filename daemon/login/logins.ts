// Login orchestration: starts browser and device-code logins (and API-key ones), keeps the one
// pending login, cancels it when superseded, cancelled or when the client that started it
// disconnects, and hands what a login brings to be saved as an account (../accounts/service.ts).
import { EventEmitter } from 'node:events';
import type { LoginCompleted, LoginStartParams, LoginStartResult, LoginType } from '../../shared/protocol.js';
import { LoginFailed } from '../errors.js';
import { IssuerError, type IssuerClient } from '../auth/issuer.js';
import { identityOf } from '../auth/jwt.js';
import type { Logger } from '../runtime/log.js';
import { LoginError, type LoginContext, type LoginFlow } from './flow.js';
import type { Peer } from '../rpc/server.js';
import type { Settings } from '../runtime/settings.js';
import { timestamp, type AuthRecord, type AuthStore } from '../auth/store.js';

export interface LoginsEvents {
  completed: [LoginCompleted];
  /** The pending login started or ended. */
  changed: [];
}

/** Saves a login as the active account, adding or updating it; `name` labels it. Returns where an unusable auth.json was kept aside, if it was. */
export type SaveLogin = (record: AuthRecord, name: string | undefined) => Promise<string | null>;

export class Logins extends EventEmitter<LoginsEvents> {
  private login: LoginFlow | null = null;
  private sequence = 0;
  /** Bumped by every login start and logout: a login that finishes starting after a newer one began is dropped. */
  private generation = 0;
  private supersededBecause = '';

  constructor(
    private readonly store: AuthStore,
    private readonly issuer: IssuerClient,
    private readonly save: SaveLogin,
    private readonly settings: Settings,
    private readonly log: Logger,
  ) {
    super();
  }

  get pending(): { loginId: string; type: LoginType } | null {
    return this.login ? { loginId: this.login.loginId, type: this.login.type } : null;
  }

  stop(): void {
    this.login?.cancel('codexd is shutting down');
  }

  /** `peer` is the connection that asked: the login ends when it closes, unless asked to be kept. */
  async start(params: LoginStartParams, peer: Peer): Promise<LoginStartResult> {
    const readOnly = await this.store.readOnlyReason();
    if (readOnly) throw new LoginFailed(`Cannot log in: ${readOnly}.`);
    const generation = this.supersede('Login was cancelled because a new login was started');
    if (params.type === 'apiKey') {
      const movedAside = await this.save({ auth_mode: 'apikey', OPENAI_API_KEY: params.apiKey }, params.name);
      this.log.info('logged in with an API key');
      return { type: 'apiKey', ...(movedAside ? { movedAside } : {}) };
    }
    const context = this.context(`login-${Date.now().toString(36)}-${++this.sequence}`, params.name);
    try {
      if (params.type === 'chatgpt') {
        // The flows load on first use: the browser's pulls in node:http, which start-up need not pay for.
        const { startBrowserLogin } = await import('./browser.js');
        const { flow, authUrl, busyPort } = await startBrowserLogin(context, this.settings);
        this.track(flow, generation);
        if (!params.keepAfterDisconnect) this.cancelOnDisconnect(flow, peer);
        if (params.openBrowser) this.openBrowser(authUrl);
        return { type: 'chatgpt', loginId: flow.loginId, authUrl, ...(busyPort === null ? {} : { busyPort }) };
      }
      const { startDeviceLogin } = await import('./device.js');
      const { flow, verificationUrl, userCode, expiresAt } = await startDeviceLogin(context, this.settings);
      this.track(flow, generation);
      if (!params.keepAfterDisconnect) this.cancelOnDisconnect(flow, peer);
      return { type: 'chatgptDeviceCode', loginId: flow.loginId, verificationUrl, userCode, expiresAt };
    } catch (error) {
      // Anything else is a bug: the RPC layer logs it and answers with an internal error.
      if (!(error instanceof LoginError || error instanceof IssuerError || error instanceof LoginFailed)) throw error;
      context.log.warn(`the login could not start: ${error.message}`);
      throw new LoginFailed(error.message);
    }
  }

  cancel(loginId: string): 'canceled' | 'notFound' {
    if (!this.login || this.login.loginId !== loginId) return 'notFound';
    this.login.cancel('Login was cancelled');
    return 'canceled';
  }

  /** Cancels the pending login, and any login still starting, with `reason`. */
  supersede(reason: string): number {
    this.supersededBecause = reason;
    this.login?.cancel(reason);
    return ++this.generation;
  }

  /** Best effort, for clients that ask the daemon to do it; the URL is always returned too. */
  private openBrowser(url: string): void {
    import('open')
      .then(({ default: open }) => open(url))
      .catch((error: Error) => this.log.warn(`could not open a browser: ${error.message}`));
  }

  /** A killed `codex-auth login` must not leave its login holding the callback port for minutes. */
  private cancelOnDisconnect(flow: LoginFlow, peer: Peer): void {
    const forget = peer.onClose(() => {
      if (this.login !== flow) return;
      this.log.info({ loginId: flow.loginId }, 'the client that started the login disconnected; cancelling it');
      flow.cancel('Login was cancelled because the client that started it disconnected');
    });
    const ended = (event: LoginCompleted): void => {
      if (event.loginId !== flow.loginId) return;
      forget();
      this.off('completed', ended);
    };
    this.on('completed', ended);
  }

  private track(flow: LoginFlow, generation: number): void {
    if (generation !== this.generation) {
      // Another login or a logout began while this one was starting (binding the port, asking for a device code).
      flow.cancel(this.supersededBecause);
      throw new LoginFailed(this.supersededBecause);
    }
    this.login = flow;
    this.emit('changed');
  }

  private context(loginId: string, name: string | undefined): LoginContext {
    let movedAside: string | null = null;
    return {
      loginId,
      issuer: this.issuer,
      log: this.log.child({ loginId }),
      persist: async (tokens, { apiKey }) => {
        movedAside = await this.save({ auth_mode: 'chatgpt', OPENAI_API_KEY: apiKey, tokens: { ...tokens, account_id: identityOf(tokens.id_token).accountId }, last_refresh: timestamp() }, name);
      },
      finished: ({ success, error }) => {
        if (this.login?.loginId === loginId) this.login = null;
        this.log.info({ success }, success ? 'login completed' : `login ended: ${error}`);
        this.emit('completed', { loginId, success, error, ...(success && movedAside ? { movedAside } : {}) });
        this.emit('changed');
      },
    };
  }
}
