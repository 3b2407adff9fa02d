import type { Empty, LogoutResult } from '../../shared/protocol.js';
import type { Handler } from './handlers.js';
import { noParams } from './params.js';

export const handleLogout: Handler<Empty, LogoutResult> = {
  params: noParams,
  handle: (_params, { account }) => account.logout(),
};
