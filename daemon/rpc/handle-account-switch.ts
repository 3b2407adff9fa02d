import type { AccountSummary, SwitchParams } from '../../shared/protocol.js';
import type { RequestHandler } from './handlers.js';
import { invalid, optionalName, paramsObject } from './params.js';

export const handleAccountSwitch: RequestHandler<SwitchParams, AccountSummary> = {
  params: (raw) => {
    const name = optionalName(paramsObject(raw), 'name');
    if (name === undefined) throw invalid('name must be a non-empty string');
    return { name };
  },
  handle: ({ name }, { account }) => account.switchTo(name),
};
