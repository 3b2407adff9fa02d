import type { Empty, ListResult } from '../../shared/protocol.js';
import type { RequestHandler } from './handlers.js';
import { noParams } from './params.js';

export const handleAccountList: RequestHandler<Empty, ListResult> = {
  params: noParams,
  handle: (_params, { account }) => ({ accounts: account.list() }),
};
