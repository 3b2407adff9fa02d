import type { Empty, SessionResult } from '../../shared/protocol.js';
import type { Handler } from './handlers.js';
import { noParams } from './params.js';

export const handleAccountSession: Handler<Empty, SessionResult> = {
  params: noParams,
  handle: (_params, { account }) => account.sessionForFollower(),
};
