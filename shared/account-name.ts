// What may name an account (docs/accounts.md): the daemon refuses any other name, and codex-auth
// says so before it sends one.
const NAME = /^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$/;

/** Why `name` cannot name an account, or null when it can. */
export function nameProblem(name: string): string | null {
  return NAME.test(name) ? null : 'a name is 1 to 64 letters, digits and . _ @ + -, starting with a letter or digit';
}
