import type { TokenParams, TokenResult } from '../../shared/protocol.js';
import type { Handler } from './handlers.js';
import { optionalBoolean, optionalName, paramsObject } from './params.js';

export const handleAccountToken: Handler<TokenParams, TokenResult> = {
  params: (raw) => {
    const params = paramsObject(raw);
    const name = optionalName(params, 'account');
    return { forceRefresh: optionalBoolean(params, 'forceRefresh'), ...(name === undefined ? {} : { account: name }) };
  },
  handle: ({ forceRefresh = false, account: name }, { account }) => account.token(forceRefresh, name),
};
