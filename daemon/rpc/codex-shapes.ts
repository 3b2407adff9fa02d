// Codex app-server (protocol v2) fields beside ours, so that a client written for Codex's account
// methods works unchanged (see docs/protocol.md for the mapping).
import type { AccountUpdated, ReadResult, Status } from '../../shared/protocol.js';

export function readResult(status: Status): ReadResult {
  return { ...status, requiresOpenaiAuth: true };
}

export function accountUpdated(status: Status): AccountUpdated {
  const { account } = status;
  return {
    ...status,
    authMode: account === null ? null : account.type === 'apiKey' ? 'apikey' : 'chatgpt',
    planType: account?.type === 'chatgpt' ? account.planType : null,
  };
}
