import type { DaemonStatus, Empty } from '../../shared/protocol.js';
import type { Handler } from './handlers.js';
import { noParams } from './params.js';

export const handleDaemonStatus: Handler<Empty, DaemonStatus> = {
  params: noParams,
  handle: (_params, { daemon }) => daemon.status(),
};
