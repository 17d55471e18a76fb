/**
 * Money: what an endpoint charges per token, and what a run costs or is estimated to cost. Prices
 * are per million tokens, in US dollars (what providers quote); in-browser engines and endpoints
 * without a price are "not priced", never free, so a total never hides an unknown part.
 */
import type { AgentRole } from './engine-config';
import type { TokenUsage } from './llm';

/** What a provider charges, USD per million tokens. */
export interface TokenPrice {
  inputPerMillion: number;
  outputPerMillion: number;
}

/** Highest price the form accepts, USD per million tokens (far above any model today). */
export const MAX_PRICE_PER_MILLION = 10_000;

/**
 * Parses a price field: empty is "no price" (undefined); else a non-negative number of dollars per
 * million tokens, `$` and thousands separators allowed.
 */
export function parsePrice(
  input: string,
  what: string,
): { ok: true; value: number | undefined } | { ok: false; error: string } {
  const text = input
    .trim()
    .replace(/^\$/, '')
    .replace(/[,_\s]/g, '');
  if (!text) return { ok: true, value: undefined };
  const value = /^\d*\.?\d+$|^\d+\.$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(value) || value < 0 || value > MAX_PRICE_PER_MILLION)
    return {
      ok: false,
      error: `${what} must be a number of US dollars per million tokens from 0 to ${MAX_PRICE_PER_MILLION.toLocaleString('en')} (e.g. 0.15), or empty for no price. You gave "${input.trim()}".`,
    };
  return { ok: true, value };
}

/** Both price fields of the form: a price needs both, or neither. */
export function parseTokenPrice(
  input: string,
  output: string,
): { ok: true; value: TokenPrice | undefined } | { ok: false; error: string } {
  const a = parsePrice(input, 'The input price');
  if (!a.ok) return a;
  const b = parsePrice(output, 'The output price');
  if (!b.ok) return b;
  if (a.value === undefined && b.value === undefined) return { ok: true, value: undefined };
  if (a.value === undefined || b.value === undefined)
    return {
      ok: false,
      error:
        'Give both prices (input and output tokens; 0 is allowed), or leave both empty for no price.',
    };
  return { ok: true, value: { inputPerMillion: a.value, outputPerMillion: b.value } };
}

/** USD for `usage` at `price`. */
export function costOf(usage: TokenUsage, price: TokenPrice): number {
  return (
    (usage.promptTokens * price.inputPerMillion + usage.completionTokens * price.outputPerMillion) /
    1_000_000
  );
}

/** A cost summed over roles, with what could not be priced. */
export interface CostSummary {
  /** USD of the priced roles. */
  total: number;
  /** Roles that used tokens and have a price. */
  pricedRoles: AgentRole[];
  /** Roles that used tokens without a price (in-browser engines, endpoints without one). */
  unpricedRoles: AgentRole[];
}

/** The cost of tokens split by role, each role at its own model's price. */
export function costByRole(
  usageByRole: Partial<Record<AgentRole, TokenUsage>>,
  prices: Partial<Record<AgentRole, TokenPrice>>,
): CostSummary {
  const summary: CostSummary = { total: 0, pricedRoles: [], unpricedRoles: [] };
  for (const [role, usage] of Object.entries(usageByRole) as [AgentRole, TokenUsage][]) {
    if (!usage.promptTokens && !usage.completionTokens) continue;
    const price = prices[role];
    if (price) {
      summary.total += costOf(usage, price);
      summary.pricedRoles.push(role);
    } else summary.unpricedRoles.push(role);
  }
  return summary;
}

/** `$1,234.56`, `$0.042` (three significant digits below a dollar), `$0` and `< $0.001`. */
export function formatMoney(usd: number): string {
  if (!Number.isFinite(usd)) return '—';
  if (usd === 0) return '$0';
  if (usd < 0.001) return '< $0.001';
  if (usd < 1) return `$${Number(usd.toPrecision(3)).toString()}`;
  return `$${usd.toLocaleString('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** One figure of a run, as estimated at its start and as it turned out. */
export interface EstimateRow {
  metric: 'pairs' | 'promptTokens' | 'completionTokens' | 'cost';
  estimate: number;
  actual: number;
}

/**
 * A finished run against the estimate it started with: pairs, tokens and, when the estimate was
 * priced, money. Actual money prices each role's tokens at the prices stored with the estimate, so
 * a price changed since does not rewrite history.
 */
export function estimateVsActual(
  estimate: {
    expectedPairs: number;
    promptTokens: number;
    completionTokens: number;
    prices: Partial<Record<string, TokenPrice>>;
    cost?: { total: number } | undefined;
  },
  actual: {
    pairs: number;
    usage: TokenUsage;
    usageByRole?: Partial<Record<AgentRole, TokenUsage>> | undefined;
  },
): { rows: EstimateRow[]; unpricedRoles: AgentRole[] } {
  const rows: EstimateRow[] = [
    { metric: 'pairs', estimate: estimate.expectedPairs, actual: actual.pairs },
    {
      metric: 'promptTokens',
      estimate: estimate.promptTokens,
      actual: actual.usage.promptTokens,
    },
    {
      metric: 'completionTokens',
      estimate: estimate.completionTokens,
      actual: actual.usage.completionTokens,
    },
  ];
  let unpricedRoles: AgentRole[] = [];
  if (estimate.cost) {
    const spent = costByRole(
      actual.usageByRole ?? {},
      estimate.prices as Partial<Record<AgentRole, TokenPrice>>,
    );
    rows.push({ metric: 'cost', estimate: estimate.cost.total, actual: spent.total });
    unpricedRoles = spent.unpricedRoles;
  }
  return { rows, unpricedRoles };
}
