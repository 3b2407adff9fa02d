import type { TokenParams, TokenResult } from '../../shared/protocol.js';
import type { Handler } from './handlers.js';
import { optionalBoolean, paramsObject } from './params.js';

export const handleAccountToken: Handler<TokenParams, TokenResult> = {
  params: (raw) => ({ forceRefresh: optionalBoolean(paramsObject(raw), 'forceRefresh') }),
  handle: ({ forceRefresh = false }, { account }) => account.token(forceRefresh),
};
