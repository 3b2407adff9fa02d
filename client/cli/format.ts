// How codex-auth shows things to a person.
import type { DaemonStatus, Status } from '../../shared/protocol.js';

/**
 * Text codexd did not write itself (an email claim, an issuer's error_description, a user code)
 * may hold escape sequences that retitle or clear the terminal: C0 and C1 control characters are
 * removed, line breaks kept.
 */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/g, '');
}

/** JSON.stringify escapes C0 but leaves DEL and C1 raw; this escapes those in JSON text. */
export function escapeC1(json: string): string {
  return json.replace(/[\u007f-\u009f]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** JSON for people and scripts, with no raw control character. */
export function jsonText(value: unknown): string {
  return escapeC1(JSON.stringify(value, null, 2));
}

/** Codex's mask: first 8 characters, ***, last 5; short keys show only ***. */
export function maskApiKey(key: string): string {
  return key.length <= 13 ? '***' : `${key.slice(0, 8)}***${key.slice(-5)}`;
}

function relative(iso: string, now: number): string {
  const ms = Date.parse(iso) - now;
  const minutes = Math.round(Math.abs(ms) / 60_000);
  const span = minutes < 90 ? `${minutes} min` : minutes < 48 * 60 ? `${Math.round(minutes / 60)} h` : `${Math.round(minutes / 1440)} days`;
  return ms >= 0 ? `in ${span}` : `${span} ago`;
}

/** ISO 8601, UTC, milliseconds, as in the log (auth.json's last_refresh has microseconds). */
export function when(iso: string, now: number): string {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? `${new Date(ms).toISOString()} (${relative(iso, now)})` : iso;
}

export function describeStatus(status: Status, apiKey: string | null, daemon: DaemonStatus | null, now = Date.now()): string {
  const lines: string[] = [];
  const { account } = status;
  // A follower's login lives on its upstream machine: that is where to sign in.
  const signIn = status.upstream ? 'Run `codex-auth login` on the upstream machine.' : 'Run `codex-auth login`.';
  const others = status.accounts.filter((summary) => !summary.active).map((summary) => summary.name);
  if (!account) {
    lines.push(status.reauthReason ? `Not logged in: ${status.reauthReason}` : 'Not logged in.');
    // A follower's reason that names the command to run (one that stopped mirroring) is instruction enough.
    if (status.upstream) {
      if (!status.reauthReason?.includes('`codex')) lines.push(signIn);
    } else lines.push(others.length > 0 ? `Run \`codex-auth switch NAME\` to use one of your accounts (${others.join(', ')}), or \`codex-auth login\` to add one.` : 'Run `codex-auth login` to sign in.');
  } else if (account.type === 'apiKey') {
    lines.push(`Logged in using an API key - ${apiKey ? maskApiKey(apiKey) : '***'}`);
  } else {
    const who = `${account.email ?? 'unknown email'}${account.planType ? ` (${account.planType})` : ''}`;
    if (status.state === 'reauthRequired' && status.upstream) {
      // The reason says what to do: reconnect the link, or sign in upstream.
      lines.push(`No usable token for ${who}: ${status.reauthReason}`);
    } else if (status.state === 'reauthRequired') {
      // Codex's reasons end in advice of their own ("Please log out and sign in again."): one instruction is enough.
      const reason = (status.reauthReason ?? '').replace(/\s*Please [^.]*sign in again\.$/, '');
      lines.push(`Sign-in needed for ${who}: ${reason} ${signIn}`);
    } else {
      lines.push(`Logged in using ChatGPT as ${who}`);
    }
    if (account.accountId) lines.push(`  account:        ${account.accountId}`);
    if (status.accessTokenExpiresAt) lines.push(`  token expires:  ${when(status.accessTokenExpiresAt, now)}`);
    if (status.accessTokenExpiryNote) lines.push(`  token expires:  unknown: ${status.accessTokenExpiryNote}`);
    if (status.lastRefresh) lines.push(`  last refresh:   ${when(status.lastRefresh, now)}`);
    if (status.state === 'refreshing') lines.push('  state:          refreshing now');
    if (status.lastRefreshError && status.state !== 'reauthRequired') lines.push(`  refresh failed: ${status.lastRefreshError}`);
    if (status.nextRefreshAt) lines.push(`  ${status.lastRefreshError ? 'next try:      ' : 'next refresh:  '} ${when(status.nextRefreshAt, now)}`);
  }
  if (account && others.length > 0) {
    lines.push(`  account name:   ${status.accounts.find((summary) => summary.active)?.name ?? '-'}`, `  other accounts: ${others.join(', ')} (\`codex-auth switch NAME\`)`);
  }
  // Absent from daemons older than the keyring modes.
  const store = status.credentialStore as Status['credentialStore'] | undefined;
  if (store && store.configured !== 'file') {
    const where = store.using === 'keyring' && store.keyringEntry ? `the OS keyring (${store.keyringEntry.service}, ${store.keyringEntry.account})` : 'auth.json (the keyring is not usable)';
    lines.push(`  stored in:      ${where}, cli_auth_credentials_store = "${store.configured}"`);
  }
  if (store?.problem && status.reauthReason !== store.problem) lines.push(`  store problem:  ${store.problem}`);
  if (status.login) lines.push(`  pending login:  ${status.login.type} (${status.login.loginId})`);
  if (status.upstream) lines.push(`  upstream:       ${status.upstream.state} since ${when(status.upstream.since, now)}, ${status.upstream.path}`);
  if (daemon) lines.push(`  daemon:         pid ${daemon.pid}, codexd ${daemon.version}, ${daemon.codexHome}`);
  return lines.join('\n');
}

export function describeDaemon(daemon: DaemonStatus): string {
  return [
    `codexd ${daemon.version} is running`,
    `  pid:          ${daemon.pid}`,
    `  uptime:       ${daemon.uptimeS} s`,
    `  socket:       ${daemon.socket}`,
    `  restricted:   ${daemon.restrictedSocket ?? 'off'}`,
    `  activation:   ${daemon.activation}`,
    `  CODEX_HOME:   ${daemon.codexHome}`,
    `  connections:  ${daemon.connections}`,
    `  log:          ${daemon.logFile ?? 'stderr / journal'}`,
  ].join('\n');
}
