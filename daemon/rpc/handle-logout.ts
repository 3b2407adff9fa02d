import type { LogoutParams, LogoutResult } from '../../shared/protocol.js';
import type { RequestHandler } from './handlers.js';
import { invalid, optionalBoolean, optionalName, paramsObject } from './params.js';

/** `{}` logs out of the active account, as Codex's account/logout does. */
export const handleLogout: RequestHandler<LogoutParams, LogoutResult> = {
  params: (raw) => {
    const params = paramsObject(raw);
    const name = optionalName(params, 'name');
    const all = optionalBoolean(params, 'all');
    if (name !== undefined && all) throw invalid('give name or all, not both');
    return { ...(name === undefined ? {} : { name }), ...(all ? { all } : {}) };
  },
  handle: (params, { account }) => account.logout(params),
};
