/** A mistake in how codex-auth was called: one line on stderr, exit status 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
