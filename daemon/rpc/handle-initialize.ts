import { MAX_INSTANCE_IDS, PROTOCOL_VERSION, type InitializeParams, type InitializeResult } from '../../shared/protocol.js';
import type { RequestHandler } from './handlers.js';
import { invalid, paramsObject, type Params } from './params.js';

export const handleInitialize: RequestHandler<InitializeParams, InitializeResult> = {
  params: (raw) => {
    const info = paramsObject(raw)['clientInfo'] as Params | undefined;
    if (info === undefined) return {};
    if (typeof info !== 'object' || info === null || typeof info['name'] !== 'string' || typeof info['version'] !== 'string') {
      throw invalid('clientInfo must be {name: string, version: string}');
    }
    return { clientInfo: { name: info['name'], version: info['version'] } };
  },
  handle: (_params, { daemon }, peer) => {
    // CODEX_HOME is a path on this machine: the restricted socket, forwarded elsewhere, keeps it to itself.
    const { codexHome, ...served } = daemon.serves;
    return {
      serverInfo: { name: 'codexd', version: daemon.version },
      protocolVersion: PROTOCOL_VERSION,
      ...served,
      ...(peer.restricted ? {} : { codexHome }),
      startedBy: daemon.startedBy,
      instanceIds: daemon.instanceIds().slice(0, MAX_INSTANCE_IDS),
    };
  },
};
