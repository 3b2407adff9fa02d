import type { Empty, SessionResult } from '../../shared/protocol.js';
import type { RequestHandler } from './handlers.js';
import { noParams } from './params.js';

export const handleAccountSession: RequestHandler<Empty, SessionResult> = {
  params: noParams,
  handle: (_params, { account }) => account.sessionForFollower(),
};
