import { Requests, type TokenParams, type TokenResult } from '../../shared/protocol.js';
import { restrictedError } from './server.js';
import type { RequestHandler } from './handlers.js';
import { optionalBoolean, optionalName, paramsObject } from './params.js';

export const handleAccountToken: RequestHandler<TokenParams, TokenResult> = {
  params: (raw) => {
    const params = paramsObject(raw);
    const name = optionalName(params, 'account');
    return { forceRefresh: optionalBoolean(params, 'forceRefresh'), ...(name === undefined ? {} : { account: name }) };
  },
  handle: ({ forceRefresh = false, account: name }, { account }, peer) => {
    // The restricted socket lends the active login only, not every account's.
    if (peer.restricted && name !== undefined) throw restrictedError(`${Requests.accountToken.method} for a named account`);
    return account.token(forceRefresh, name, peer.restricted);
  },
};
