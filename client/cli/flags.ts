// The options of a codex-auth command line as its handler reads them, each with its default.
// Apart from args.ts so that the bin can run `codex-auth token` without the command table.
import type { Option, OPTIONS } from './commands.js';

export interface Flags {
  socket?: string | undefined;
  json: boolean;
  deviceAuth: boolean;
  withApiKey: boolean;
  apiKey?: string | undefined;
  noBrowser: boolean;
  cancel: boolean;
  forceRefresh: boolean;
  noAutostart: boolean;
  dryRun: boolean;
  follow: boolean;
  name?: string | undefined;
  all: boolean;
  account?: string | undefined;
  remoteUid?: string | undefined;
  codex?: string | undefined;
  offline: boolean;
  env?: string | undefined;
  /** `logs -n N`. */
  lines?: number | undefined;
}

/** The options given, as util.parseArgs returns them. */
export type OptionValues = { [K in Option]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** The flags of the options given; `-n` (lines) is checked and set by the command line. */
export function flagsFrom(values: OptionValues): Flags {
  return {
    socket: values.socket,
    json: values.json ?? false,
    deviceAuth: values['device-auth'] ?? false,
    withApiKey: values['with-api-key'] ?? false,
    apiKey: values['api-key'],
    noBrowser: values['no-browser'] ?? false,
    cancel: values.cancel ?? false,
    forceRefresh: values['force-refresh'] ?? false,
    noAutostart: values['no-autostart'] ?? false,
    dryRun: values['dry-run'] ?? false,
    follow: values.follow ?? false,
    name: values.name,
    all: values.all ?? false,
    account: values.account,
    remoteUid: values['remote-uid'],
    codex: values.codex,
    offline: values.offline ?? false,
    env: values.env,
  };
}
