// Every secret the daemon has seen (tokens, keys, codes, verifiers, state) is registered here,
// and every log line and every error message sent to a client passes through `scrub`.
// Field-based redaction in the logger catches known keys; this catches a secret that reached
// a message by any other route (an issuer echoing a token in an error body, say).
const secrets = new Set<string>();

/** Shorter values are too likely to occur by chance to be worth scrubbing. */
const MIN_SECRET_LENGTH = 8;

export function registerSecret(value: string | null | undefined): void {
  if (value && value.length >= MIN_SECRET_LENGTH) secrets.add(value);
}

export function scrub(text: string): string {
  if (secrets.size === 0) return text;
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join('[REDACTED]');
  }
  return out;
}
