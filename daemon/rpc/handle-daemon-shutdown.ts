import type { Empty } from '../../shared/protocol.js';
import type { RequestHandler } from './handlers.js';
import { noParams } from './params.js';

export const handleDaemonShutdown: RequestHandler<Empty, Empty> = {
  params: noParams,
  handle: (_params, { daemon }) => {
    // After the response is on its way.
    setImmediate(() => daemon.shutdown());
    return {};
  },
};
