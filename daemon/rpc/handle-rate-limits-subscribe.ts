// A connection's subscription to the usage poll (account/rateLimits/updated while it lasts): one
// per connection, ended by unsubscribe or by the connection closing.
import type { Empty } from '../../shared/protocol.js';
import type { RequestHandler } from './handlers.js';
import type { Peer } from './server.js';
import { noParams } from './params.js';

const subscriptions = new WeakMap<Peer, () => void>();

export const handleRateLimitsSubscribe: RequestHandler<Empty, Empty> = {
  params: noParams,
  handle: (_params, { usage }, peer) => {
    if (subscriptions.has(peer)) return {};
    const release = usage.subscribe();
    const forget = peer.onClose(() => {
      subscriptions.delete(peer);
      release();
    });
    subscriptions.set(peer, () => {
      forget();
      release();
    });
    return {};
  },
};

export const handleRateLimitsUnsubscribe: RequestHandler<Empty, Empty> = {
  params: noParams,
  handle: (_params, _context, peer) => {
    subscriptions.get(peer)?.();
    subscriptions.delete(peer);
    return {};
  },
};
