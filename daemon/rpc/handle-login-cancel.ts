import type { LoginCancelParams, LoginCancelResult } from '../../shared/protocol.js';
import type { RequestHandler } from './handlers.js';
import { paramsObject, requiredString } from './params.js';

export const handleLoginCancel: RequestHandler<LoginCancelParams, LoginCancelResult> = {
  params: (raw) => ({ loginId: requiredString(paramsObject(raw), 'loginId') }),
  handle: ({ loginId }, { account }) => ({ status: account.logins.cancel(loginId) }),
};
