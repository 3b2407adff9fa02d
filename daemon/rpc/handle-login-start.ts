import type { LoginStartParams, LoginStartResult } from '../../shared/protocol.js';
import type { RequestHandler } from './handlers.js';
import { invalid, optionalBoolean, optionalName, paramsObject, requiredString, type Params } from './params.js';

/** Real keys are about 200 bytes; anything near this is not a key (and would be held in memory). */
const MAX_API_KEY_BYTES = 4096;

function apiKey(params: Params): string {
  const key = requiredString(params, 'apiKey').trim();
  if (Buffer.byteLength(key) > MAX_API_KEY_BYTES) throw invalid('apiKey is longer than 4 KiB');
  return key;
}

/** Unknown keys are ignored: Codex's clients may send some of their own (codexStreamlinedLogin). */
export const handleLoginStart: RequestHandler<LoginStartParams, LoginStartResult> = {
  params: (raw) => {
    const params = paramsObject(raw);
    const name = optionalName(params, 'name');
    const named = name === undefined ? {} : { name };
    switch (params['type']) {
      case 'apiKey':
        return { type: 'apiKey', apiKey: apiKey(params), ...named };
      case 'chatgpt':
        return { type: 'chatgpt', openBrowser: optionalBoolean(params, 'openBrowser'), keepAfterDisconnect: optionalBoolean(params, 'keepAfterDisconnect'), ...named };
      case 'chatgptDeviceCode':
        return { type: 'chatgptDeviceCode', keepAfterDisconnect: optionalBoolean(params, 'keepAfterDisconnect'), ...named };
      default:
        throw invalid('type must be "apiKey", "chatgpt" or "chatgptDeviceCode"');
    }
  },
  handle: (params, { account }, peer) => account.logins.start(params, peer),
};
