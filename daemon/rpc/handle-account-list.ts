import type { Empty, ListResult } from '../../shared/protocol.js';
import type { Handler } from './handlers.js';
import { noParams } from './params.js';

export const handleAccountList: Handler<Empty, ListResult> = {
  params: noParams,
  handle: (_params, { account }) => ({ accounts: account.list() }),
};
