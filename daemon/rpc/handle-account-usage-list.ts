import type { UsageListParams, UsageListResult } from '../../shared/protocol.js';
import type { RequestHandler } from './handlers.js';
import { optionalBoolean, paramsObject } from './params.js';

export const handleAccountUsageList: RequestHandler<UsageListParams, UsageListResult> = {
  params: (raw) => ({ refresh: optionalBoolean(paramsObject(raw), 'refresh') }),
  handle: ({ refresh = false }, { usage }) => usage.list(refresh),
};
