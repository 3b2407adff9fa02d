// ChatGPT browser login: PKCE S256, Codex's authorize URL and what a callback does (docs/codex-auth.md
// §2); the callback server itself, on 127.0.0.1 and ::1, is callback-server.ts.
import { createHash, randomBytes } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { registerSecret } from '../runtime/secrets.js';
import type { Settings } from '../runtime/settings.js';
import { sendHtml, startCallbackServer } from './callback-server.js';
import type { LoginContext, LoginFlow } from './flow.js';
import { errorPage } from './pages.js';

const SCOPE = 'openid profile email offline_access api.connectors.read api.connectors.invoke';
/** How long the server stays up after a successful login so the browser can load /success. */
const SUCCESS_PAGE_GRACE_MS = 10_000;

export interface Pkce {
  verifier: string;
  challenge: string;
}

export function createPkce(): Pkce {
  const verifier = randomBytes(64).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(issuer: string, clientId: string, redirectUri: string, challenge: string, state: string): string {
  const params: Array<[string, string]> = [
    ['response_type', 'code'],
    ['client_id', clientId],
    ['redirect_uri', redirectUri],
    ['scope', SCOPE],
    ['code_challenge', challenge],
    ['code_challenge_method', 'S256'],
    ['id_token_add_organizations', 'true'],
    ['codex_cli_simplified_flow', 'true'],
    ['state', state],
    ['originator', process.env['CODEX_INTERNAL_ORIGINATOR_OVERRIDE'] || 'codex_cli_rs'],
  ];
  return `${issuer}/oauth/authorize?${params.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')}`;
}

export async function startBrowserLogin(context: LoginContext, settings: Settings): Promise<{ flow: LoginFlow; authUrl: string; busyPort: number | null }> {
  const pkce = createPkce();
  const state = randomBytes(32).toString('base64url');
  registerSecret(pkce.verifier);
  registerSecret(state);

  const server = await startCallbackServer(settings.loginPort, context.log, {
    callback: (query, res) => void handleCallback(query, res),
    cancel: () => end(false, 'Login was cancelled'),
  });
  const { port } = server;
  const redirectUri = `http://localhost:${port}/auth/callback`;

  let ended = false;
  /** A callback is being exchanged and saved; a second one (a double click, a reload) must not race it. */
  let completing = false;
  const end = (success: boolean, error: string | null, keepServerMs = 0): void => {
    if (ended) return;
    ended = true;
    clearTimeout(timeout);
    server.close(keepServerMs);
    context.finished({ success, error });
  };
  const timeout = setTimeout(() => end(false, 'Login timed out'), settings.loginTimeoutS * 1000);
  timeout.unref();

  const fail = (res: ServerResponse, heading: string, message: string, whatToDo: string): void => {
    sendHtml(res, 200, errorPage(heading, message, whatToDo));
    end(false, message);
  };

  const handleCallback = async (query: URLSearchParams, res: ServerResponse): Promise<void> => {
    if (ended) {
      sendEnded(res);
      return;
    }
    if (query.get('state') !== state) {
      // A forged or stale callback: refuse it, and keep waiting for the real one.
      res.writeHead(400, { 'content-type': 'text/plain' }).end('State mismatch');
      return;
    }
    if (completing) {
      sendHtml(res, 200, errorPage('Sign-in is already being completed', 'This sign-in is already being completed in another tab.', 'Wait a moment, then check your terminal.'));
      return;
    }
    const error = query.get('error');
    if (error) {
      const description = query.get('error_description') ?? '';
      if (error === 'access_denied' && description.includes('missing_codex_entitlement')) {
        fail(res, 'You do not have access to Codex', 'Codex is not enabled for your workspace. Contact your workspace administrator to request access to Codex.', 'Once access is granted, run `codex-auth login` again.');
      } else {
        fail(res, 'Sign-in failed', `Sign-in failed: ${description || error}`, 'Run `codex-auth login` to try again.');
      }
      return;
    }
    const code = query.get('code');
    if (!code) {
      fail(res, 'Sign-in could not be completed', 'Missing authorization code. Sign-in could not be completed.', 'Run `codex-auth login` to try again.');
      return;
    }
    registerSecret(code);
    completing = true;
    let tokens;
    try {
      tokens = await context.issuer.exchangeCode('Token exchange', code, redirectUri, pkce.verifier);
    } catch (exchangeError) {
      if (ended) sendEnded(res);
      else fail(res, 'Sign-in could not be completed', (exchangeError as Error).message, 'Run `codex-auth login` to try again; if it keeps failing, check your network or proxy settings.');
      return;
    }
    // Best effort, as in Codex: a failed API-key exchange leaves the key null.
    const apiKey = ended ? null : await context.issuer.exchangeApiKey(tokens.id_token);
    // Cancelled, replaced or timed out while the code was being exchanged: save nothing.
    if (ended) {
      sendEnded(res);
      return;
    }
    try {
      await context.persist(tokens, { apiKey });
    } catch (persistError) {
      if (ended) sendEnded(res);
      else fail(res, 'Your login could not be saved', `Could not save the login: ${(persistError as Error).message}`, 'Check that CODEX_HOME is writable and has free space, then run `codex-auth login` again.');
      return;
    }
    if (ended) {
      sendEnded(res);
      return;
    }
    res.writeHead(302, { location: `http://localhost:${port}/success`, connection: 'close' }).end();
    end(true, null, SUCCESS_PAGE_GRACE_MS);
  };

  const flow: LoginFlow = {
    loginId: context.loginId,
    type: 'chatgpt',
    cancel: (reason) => end(false, reason),
  };
  return { flow, authUrl: authorizeUrl(context.issuer.issuer, context.issuer.clientId, redirectUri, pkce.challenge, state), busyPort: server.busyPort };
}

function sendEnded(res: ServerResponse): void {
  sendHtml(res, 200, errorPage('This login has ended', 'This sign-in link is no longer active: the login was cancelled, replaced by a newer one, or timed out.', 'Start a new login with `codex-auth login`.'));
}
