import type { DaemonStatus, Empty } from '../../shared/protocol.js';
import type { RequestHandler } from './handlers.js';
import { noParams } from './params.js';

export const handleDaemonStatus: RequestHandler<Empty, DaemonStatus> = {
  params: noParams,
  handle: (_params, { daemon }) => daemon.status(),
};
