// The ChatGPT backend's /wham/usage answer, checked and turned into Codex app-server v2's
// `GetAccountRateLimitsResponse` exactly as Codex 0.169 and 0.171 map it (docs/usage.md): the
// main limit as `rateLimits` (limitId "codex") and every limit by its id, windows in minutes
// rounded up, an unknown plan as "unknown". Anything Codex would fail to decode is a
// BackendShapeError naming the field, never a half-filled answer.
import type { CreditsSnapshot, PlanType, RateLimitReachedType, RateLimitSnapshot, RateLimitWindow, RateLimitsResponse } from '../../shared/protocol.js';
import { isRecord } from '../../shared/framing.js';

export class BackendShapeError extends Error {
  override name = 'BackendShapeError';
}

const PLAN_TYPES: readonly string[] = [
  'free', 'go', 'plus', 'pro', 'prolite', 'promax', 'team', 'self_serve_business_prolite', 'self_serve_business_usage_based', 'business', 'ent26',
  'enterprise_cbp_automation', 'enterprise_cbp_usage_based', 'enterprise', 'edu', 'edu_plus', 'edu_pro', 'sci', 'sci_plus', 'unknown',
] satisfies readonly PlanType[];

const REACHED_TYPES: readonly string[] = [
  'rate_limit_reached', 'workspace_owner_credits_depleted', 'workspace_member_credits_depleted', 'workspace_owner_usage_limit_reached', 'workspace_member_usage_limit_reached',
] satisfies readonly RateLimitReachedType[];

/** The id Codex gives the main limit. */
export const MAIN_LIMIT_ID = 'codex';

function fail(field: string, expected: string): never {
  throw new BackendShapeError(`${field} is not ${expected}`);
}

/** An integer (i32 as Codex decodes used_percent and the window's seconds; reset_at, a Unix time, may be larger). */
function integer(record: Record<string, unknown>, key: string, where: string, max = 2 ** 31 - 1): number {
  const value = record[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || Math.abs(value) > max) fail(`${where}.${key}`, 'an integer');
  return value;
}

function optionalObject(value: unknown, field: string): Record<string, unknown> | null {
  if (value === undefined || value === null) return null;
  if (!isRecord(value)) fail(field, 'an object or null');
  return value;
}

function window(value: unknown, field: string): RateLimitWindow | null {
  const record = optionalObject(value, field);
  if (record === null) return null;
  const usedPercent = integer(record, 'used_percent', field);
  const seconds = integer(record, 'limit_window_seconds', field);
  integer(record, 'reset_after_seconds', field); // Codex refuses a window without it
  const resetAt = integer(record, 'reset_at', field, Number.MAX_SAFE_INTEGER);
  return { usedPercent, windowDurationMins: Math.ceil(seconds / 60), resetsAt: resetAt };
}

function credits(value: unknown): CreditsSnapshot | null {
  const record = optionalObject(value, 'credits');
  if (record === null) return null;
  const { has_credits: hasCredits, unlimited, balance } = record;
  if (typeof hasCredits !== 'boolean') fail('credits.has_credits', 'a boolean');
  if (typeof unlimited !== 'boolean') fail('credits.unlimited', 'a boolean');
  if (balance !== undefined && balance !== null && typeof balance !== 'string') fail('credits.balance', 'a string or null');
  return { hasCredits, unlimited, balance: balance ?? null };
}

function reachedType(value: unknown): RateLimitReachedType | null {
  const record = optionalObject(value, 'rate_limit_reached_type');
  if (record === null) return null;
  const type = record['type'];
  if (typeof type !== 'string' || !REACHED_TYPES.includes(type)) fail('rate_limit_reached_type.type', `one of ${REACHED_TYPES.join(', ')}`);
  return type as RateLimitReachedType;
}

function planType(value: unknown): PlanType | null {
  if (value === undefined || value === null) return null;
  if (typeof value !== 'string') fail('plan_type', 'a string');
  return (PLAN_TYPES.includes(value) ? value : 'unknown') as PlanType;
}

function snapshot(limitId: string, limitName: string | null, rateLimit: unknown, field: string, rest: Pick<RateLimitSnapshot, 'credits' | 'planType' | 'rateLimitReachedType'>): RateLimitSnapshot {
  const limit = optionalObject(rateLimit, field);
  return {
    limitId,
    limitName,
    normalModelSlug: null,
    primary: window(limit?.['primary_window'], `${field}.primary_window`),
    secondary: window(limit?.['secondary_window'], `${field}.secondary_window`),
    credits: rest.credits,
    individualLimit: null,
    spendControlReached: null,
    planType: rest.planType,
    rateLimitReachedType: rest.rateLimitReachedType,
  };
}

/** The backend's answer in Codex's shape; throws BackendShapeError when Codex would not decode it. */
export function toRateLimits(body: unknown): RateLimitsResponse {
  if (!isRecord(body)) fail('the answer', 'a JSON object');
  const plan = planType(body['plan_type']);
  const main = snapshot(MAIN_LIMIT_ID, null, body['rate_limit'], 'rate_limit', { credits: credits(body['credits']), planType: plan, rateLimitReachedType: reachedType(body['rate_limit_reached_type']) });
  const byId: Record<string, RateLimitSnapshot> = { [MAIN_LIMIT_ID]: main };
  const additional = body['additional_rate_limits'];
  if (additional !== undefined && additional !== null && !Array.isArray(additional)) fail('additional_rate_limits', 'an array');
  for (const [index, item] of (additional ?? []).entries()) {
    const field = `additional_rate_limits[${index}]`;
    if (!isRecord(item)) fail(field, 'an object');
    const id = item['metered_feature'];
    const name = item['limit_name'];
    if (typeof id !== 'string') fail(`${field}.metered_feature`, 'a string');
    if (name !== undefined && name !== null && typeof name !== 'string') fail(`${field}.limit_name`, 'a string or null');
    byId[id] = snapshot(id, name ?? null, item['rate_limit'], `${field}.rate_limit`, { credits: null, planType: plan, rateLimitReachedType: null });
  }
  const accountId = body['account_id'];
  return {
    ordinaryUsageAllowed: null,
    rateLimits: main,
    rateLimitsByLimitId: byId,
    rateLimitResetCredits: null,
    accountId: typeof accountId === 'string' ? accountId : null,
    rateLimitUpsell: null,
  };
}
