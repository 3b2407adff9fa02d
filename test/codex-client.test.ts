// A client written for Codex app-server's account methods (protocol v2) works against codexd
// unchanged: this one knows only Codex's method names and shapes, declared here from Codex's
// protocol, and nothing of codexd's own fields.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { frame, FrameParser, MAX_MESSAGE_BYTES } from '../shared/framing.js';
import { recorder } from './helpers.js';
import { consent, finishWorlds, httpGet, world } from './login-support.js';

after(finishWorlds);

// Codex app-server protocol v2, account methods.
type CodexAccount = { type: 'apiKey' } | { type: 'chatgpt'; email: string; planType: string };
interface GetAccountResponse {
  account: CodexAccount | null;
  requiresOpenaiAuth: boolean;
}
type LoginAccountResponse =
  | { type: 'apiKey' }
  | { type: 'chatgpt'; loginId: string; authUrl: string }
  | { type: 'chatgptDeviceCode'; loginId: string; verificationUrl: string; userCode: string };
interface CancelLoginAccountResponse {
  status: 'canceled' | 'notFound';
}
interface AccountLoginCompletedNotification {
  loginId: string | null;
  success: boolean;
  error: string | null;
}
interface AccountUpdatedNotification {
  authMode: 'apikey' | 'chatgpt' | null;
  planType: string | null;
}

/** Only the keys Codex's type declares: whatever codexd adds beside them is not this client's business. */
function codexView<T extends object>(value: T, keys: Array<keyof T>): Partial<T> {
  return Object.fromEntries(keys.filter((key) => key in value).map((key) => [key, value[key]])) as Partial<T>;
}

class CodexClient {
  private nextId = 1;
  private readonly pending = new Map<number, (message: { result?: unknown; error?: unknown }) => void>();
  readonly notifications = new EventEmitter();

  constructor(private readonly socket: Socket) {
    const parser = new FrameParser(MAX_MESSAGE_BYTES);
    socket.on('data', (chunk: Buffer) =>
      parser.push(chunk, (body) => {
        const message = JSON.parse(body.toString('utf8')) as { id?: number; method?: string; params?: unknown; result?: unknown; error?: unknown };
        if (message.method !== undefined) this.notifications.emit(message.method, message.params);
        else this.pending.get(message.id!)?.(message);
      }),
    );
  }

  static open(path: string): Promise<CodexClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(path, () => resolve(new CodexClient(socket)));
      socket.once('error', reject);
    });
  }

  on<T>(method: string): ReturnType<typeof recorder<T>> {
    return recorder<T>((listener) => this.notifications.on(method, listener));
  }

  request<T>(method: string, params?: object): Promise<T> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, ({ result, error }) => (error === undefined ? resolve(result as T) : reject(new Error(JSON.stringify(error)))));
      this.socket.write(frame({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }));
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

describe('a client that knows only Codex app-server account shapes', () => {
  it('reads the account, logs in with an API key and with ChatGPT, cancels a login, logs out, and follows account/updated', async () => {
    const w = await world('codex v2 client');
    const apiKey = 'sk-codex-client-0123456789abcdef';
    w.extraSecrets.push({ label: 'API key', value: apiKey });
    const codex = await CodexClient.open(w.box.socket);
    try {
      const updated = codex.on<AccountUpdatedNotification>('account/updated');
      const completed = codex.on<AccountLoginCompletedNotification>('account/login/completed');
      await codex.request('initialize', { clientInfo: { name: 'codex_vscode', title: 'Codex', version: '0.169.0' } });

      const loggedOut = await codex.request<GetAccountResponse>('account/read', { refreshToken: false });
      assert.deepEqual(codexView(loggedOut, ['account', 'requiresOpenaiAuth']), { account: null, requiresOpenaiAuth: true });

      const keyLogin = await codex.request<LoginAccountResponse>('account/login/start', { type: 'apiKey', apiKey });
      assert.equal(keyLogin.type, 'apiKey');
      assert.deepEqual(codexView(await updated.next((u) => u.authMode === 'apikey'), ['authMode', 'planType']), { authMode: 'apikey', planType: null });
      assert.deepEqual((await codex.request<GetAccountResponse>('account/read', {})).account, { type: 'apiKey' });

      assert.equal(typeof (await codex.request<object>('account/logout')), 'object');
      assert.deepEqual(codexView(await updated.next((u) => u.authMode === null), ['authMode', 'planType']), { authMode: null, planType: null });

      // A device-code login, canceled: the cancel answers, and login/completed says it failed.
      const device = await codex.request<LoginAccountResponse>('account/login/start', { type: 'chatgptDeviceCode' });
      assert.equal(device.type, 'chatgptDeviceCode');
      if (device.type !== 'chatgptDeviceCode') return;
      w.shown.push(device.userCode);
      assert.equal(typeof device.verificationUrl, 'string');
      assert.deepEqual(await codex.request<CancelLoginAccountResponse>('account/login/cancel', { loginId: device.loginId }), { status: 'canceled' });
      const canceled = await completed.next((c) => c.loginId === device.loginId);
      assert.equal(canceled.success, false);
      assert.equal(typeof canceled.error, 'string');
      assert.deepEqual(await codex.request<CancelLoginAccountResponse>('account/login/cancel', { loginId: device.loginId }), { status: 'notFound' });

      // A browser login, as Codex's app-server runs it: the client opens authUrl itself.
      const browser = await codex.request<LoginAccountResponse>('account/login/start', { type: 'chatgpt', codexStreamlinedLogin: true });
      assert.equal(browser.type, 'chatgpt');
      if (browser.type !== 'chatgpt') return;
      w.shown.push(browser.authUrl);
      assert.equal((await httpGet(await consent(w.issuer, browser.authUrl))).status < 400, true, 'the callback accepted the consent');
      assert.deepEqual(codexView(await completed.next((c) => c.loginId === browser.loginId), ['loginId', 'success', 'error']), {
        loginId: browser.loginId,
        success: true,
        error: null,
      });
      assert.deepEqual(codexView(await updated.next((u) => u.authMode === 'chatgpt'), ['authMode', 'planType']), { authMode: 'chatgpt', planType: 'pro' });
      const chatgpt = await codex.request<GetAccountResponse>('account/read', {});
      assert.equal(chatgpt.requiresOpenaiAuth, true);
      assert.deepEqual(chatgpt.account && codexView(chatgpt.account, ['type', 'email', 'planType'] as never), { type: 'chatgpt', email: 'dev@example.com', planType: 'pro' });
    } finally {
      codex.close();
    }
  });
});
