// Interop (issue 22): one /wham/usage answer read through the real `codex app-server`'s
// account/rateLimits/read and through codexd's, from the same fake backend and the same login,
// gives the same primary, secondary, credits, planType and rateLimitReachedType (and the whole
// snapshot, every limit by id), for the pinned Codex and the latest one.
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { RateLimitsResponse } from '../../shared/protocol.js';
import { startFakeBackend, usagePayload } from '../../support/fake-backend.js';
import { client, startDaemon, stopDaemons, type Daemon } from '../helpers.js';
import { scene } from '../refresh-support.js';
import { writeBackendConfig } from '../usage-support.js';
import { CODEX_VERSIONS, codexEnv, ensureCodex, startAppServer } from './codex-cli.js';

before(() => {
  for (const version of CODEX_VERSIONS) ensureCodex(undefined, version);
});

/** Backend answers that exercise every field the two must agree on. */
const PAYLOADS: Record<string, object> = {
  'both windows and credits': usagePayload({ plan: 'pro', primary: { usedPercent: 42 }, secondary: { usedPercent: 7 }, credits: { has_credits: true, unlimited: false, balance: '12.5' }, now: 1_765_000_000_000 }),
  'a limit reached, no weekly window, an additional limit, a plan Codex does not know': {
    ...usagePayload({ plan: 'galaxy_brain', primary: { usedPercent: 100, windowSeconds: 90 }, secondary: null, credits: null, reachedType: 'workspace_member_usage_limit_reached', accountId: 'acct_from_backend', now: 1_765_000_000_000 }),
    additional_rate_limits: [
      { limit_name: 'GPT-5-Codex-Mini', metered_feature: 'codex_mini', rate_limit: { allowed: true, limit_reached: false, primary_window: { used_percent: 3, limit_window_seconds: 604800, reset_after_seconds: 100, reset_at: 1765050001 } } },
    ],
  },
  'no rate limit at all': { plan_type: 'free', rate_limit: null, credits: { has_credits: false, unlimited: true, balance: null } },
};

for (const version of CODEX_VERSIONS) {
  describe(`account/rateLimits/read: codexd and Codex ${version}'s app-server`, () => {
    for (const [what, payload] of Object.entries(PAYLOADS)) {
      it(`agree on ${what}`, async (t) => {
        const s = await scene(t);
        const backend = await startFakeBackend();
        t.after(() => backend.close());
        writeBackendConfig(s.box.codexHome, backend.url);
        s.writeFixture();
        backend.scriptUsage(s.issuer.account.accountId, { body: payload });
        const daemons: Daemon[] = [await startDaemon(s.box)];
        t.after(() => stopDaemons(daemons));

        const appServer = await startAppServer(codexEnv(s.box), version);
        t.after(() => appServer.stop());
        const codex = (await appServer.request('account/rateLimits/read', {})) as RateLimitsResponse;
        const c = await client(s.box);
        t.after(() => c.close());
        const ours = await c.rateLimits();

        for (const field of ['primary', 'secondary', 'credits', 'planType', 'rateLimitReachedType'] as const) {
          assert.deepEqual(ours.rateLimits[field], codex.rateLimits[field], field);
        }
        assert.deepEqual(ours.rateLimits, codex.rateLimits, 'the whole snapshot');
        assert.deepEqual(ours.rateLimitsByLimitId, codex.rateLimitsByLimitId, 'every limit by id');
        assert.deepEqual([ours.accountId, ours.ordinaryUsageAllowed, ours.rateLimitUpsell], [codex.accountId, codex.ordinaryUsageAllowed, codex.rateLimitUpsell]);
        // Both asked the same backend, with the same token and account id.
        const [theirs, mine] = backend.usageRequests();
        assert.equal(backend.usageRequests().length, 2);
        assert.deepEqual([mine!.authorization, mine!.accountId], [theirs!.authorization, theirs!.accountId]);
      });
    }
  });
}
