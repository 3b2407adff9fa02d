// ChatGPT device-code login for headless and SSH machines (docs/codex-auth.md §3).
import type { Settings } from '../runtime/settings.js';
import type { LoginContext, LoginFlow } from './flow.js';

/** The issuer may say 0; polling that fast helps nobody. */
const MIN_POLL_MS = 250;
/** Nor does waiting longer than this: and beyond 2^31 − 1 ms a timer would fire at once. */
const MAX_POLL_MS = 60_000;

export interface DeviceLogin {
  flow: LoginFlow;
  verificationUrl: string;
  userCode: string;
  expiresAt: string;
}

export async function startDeviceLogin(context: LoginContext, settings: Settings): Promise<DeviceLogin> {
  const { issuer } = context;
  const { deviceAuthId, userCode, intervalS } = await issuer.requestUserCode();
  const pollMs = Math.min(Math.max(intervalS * 1000, MIN_POLL_MS), MAX_POLL_MS);
  const timeoutMs = settings.deviceCodeTimeoutS * 1000;
  const expiresAtMs = Date.now() + timeoutMs;

  let ended = false;
  let pollTimer: NodeJS.Timeout | undefined;
  const end = (success: boolean, error: string | null): void => {
    if (ended) return;
    ended = true;
    clearTimeout(pollTimer);
    clearTimeout(expiry);
    context.finished({ success, error });
  };
  // On time even when a poll is slow to answer.
  const expiry = setTimeout(() => end(false, `device auth timed out after ${describeDuration(timeoutMs)}`), timeoutMs);
  expiry.unref();

  const poll = async (): Promise<void> => {
    if (ended) return;
    if (Date.now() >= expiresAtMs) {
      end(false, `device auth timed out after ${describeDuration(timeoutMs)}`);
      return;
    }
    try {
      const grant = await issuer.pollDeviceToken(deviceAuthId, userCode);
      if (ended) return;
      if (!grant) {
        pollTimer = setTimeout(() => void poll(), pollMs);
        return;
      }
      let tokens;
      try {
        tokens = await issuer.exchangeCode('device code exchange', grant.code, `${issuer.issuer}/deviceauth/callback`, grant.verifier);
      } catch (error) {
        end(false, (error as Error).message);
        return;
      }
      if (ended) return;
      await context.persist(tokens, { apiKey: null });
      end(true, null);
    } catch (error) {
      end(false, (error as Error).message);
    }
  };
  pollTimer = setTimeout(() => void poll(), pollMs);

  return {
    flow: { loginId: context.loginId, type: 'chatgptDeviceCode', cancel: (reason) => end(false, reason) },
    verificationUrl: `${issuer.issuer}/codex/device`,
    userCode,
    expiresAt: new Date(expiresAtMs).toISOString(),
  };
}

function describeDuration(ms: number): string {
  const [count, unit] = ms % 60_000 === 0 ? [ms / 60_000, 'minute'] : [Math.round(ms / 1000), 'second'];
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}
