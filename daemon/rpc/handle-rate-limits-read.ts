import { Requests, type RateLimitsReadParams, type RateLimitsReadResult } from '../../shared/protocol.js';
import { restrictedError } from './server.js';
import type { RequestHandler } from './handlers.js';
import { optionalName, paramsObject } from './params.js';

export const handleRateLimitsRead: RequestHandler<RateLimitsReadParams, RateLimitsReadResult> = {
  // Codex's own params (supportsLunaReserve, excludeResetCreditDetails) are ignored, as any unknown key is.
  params: (raw) => {
    const name = optionalName(paramsObject(raw), 'account');
    return name === undefined ? {} : { account: name };
  },
  handle: ({ account: name }, { usage }, peer) => {
    // The restricted socket lends the active account only, not every account's.
    if (peer.restricted && name !== undefined) throw restrictedError(`${Requests.rateLimitsRead.method} for a named account`);
    return usage.read(name);
  },
};
