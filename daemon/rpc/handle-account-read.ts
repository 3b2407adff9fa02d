import type { ReadParams, ReadResult } from '../../shared/protocol.js';
import { readResult } from './codex-shapes.js';
import type { RequestHandler } from './handlers.js';
import { optionalBoolean, paramsObject } from './params.js';

export const handleAccountRead: RequestHandler<ReadParams, ReadResult> = {
  params: (raw) => ({ refreshToken: optionalBoolean(paramsObject(raw), 'refreshToken') }),
  handle: async ({ refreshToken = false }, { account }, peer) => readResult(await account.read(refreshToken, peer.restricted)),
};
