import type { LoginCancelParams, LoginCancelResult } from '../../shared/protocol.js';
import type { Handler } from './handlers.js';
import { paramsObject, requiredString } from './params.js';

export const handleLoginCancel: Handler<LoginCancelParams, LoginCancelResult> = {
  params: (raw) => ({ loginId: requiredString(paramsObject(raw), 'loginId') }),
  handle: ({ loginId }, { account }) => ({ status: account.logins.cancel(loginId) }),
};
