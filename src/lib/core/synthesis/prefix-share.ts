/**
 * How much of each call's prompt a prompt cache could reuse (issue 12 §4, issue 13 §2): the
 * share of prompt tokens that is a prefix shared with an earlier call.
 *
 * Two caches are measured, because engines keep different ones:
 * - **any earlier call** of the same task (on the same engine): what vLLM's automatic prefix
 *   caching can reuse, since it keeps the blocks of every recent request;
 * - **the previous call** (on the same engine): what a single KV cache reuses — llama.cpp's
 *   `cache_prompt` on one slot, and so wllama in the browser.
 *
 * Tokens are the app's estimate ({@link estimatePromptTokens}: ≈ 4 characters per token plus
 * {@link MESSAGE_OVERHEAD_TOKENS} per message), so shares agree with the Generate estimate. A
 * shared prefix counts every message the two calls have identical from the start, then, when the
 * next messages have the same role, that message's header (half the overhead: the template's
 * role marker comes before the text) and the characters both texts start with.
 */
import { estimateTokens, type ChatMessage } from '../llm';
import { estimatePromptTokens, MESSAGE_OVERHEAD_TOKENS } from './agents/common';

/** One agent call as a prompt cache sees it. */
export interface PromptCall {
  /** Who made the call (an agent name, or any label to group by). */
  agent: string;
  messages: readonly ChatMessage[];
  /** The engine that served it; calls on different engines share no cache. Default: one engine. */
  engine?: string;
}

/** Prompt tokens of a group of calls and how many of them a cache could reuse. */
export interface PrefixShareRow {
  calls: number;
  /** Estimated prompt tokens sent. */
  promptTokens: number;
  /** Tokens that are a prefix shared with any earlier call of the task on the same engine. */
  sharedWithAnyEarlier: number;
  /** Tokens that are a prefix shared with the previous call on the same engine. */
  sharedWithPrevious: number;
}

/** Per-agent rows and their total. */
export interface PrefixShareReport {
  byAgent: Record<string, PrefixShareRow>;
  total: PrefixShareRow;
}

/** Length of the longest common prefix of two strings, in UTF-16 code units. */
function commonPrefixLength(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

/**
 * Estimated tokens of the longest prefix `next` shares with `earlier` (see the module comment),
 * at most `estimatePromptTokens(next)`.
 */
export function sharedPrefixTokens(
  earlier: readonly ChatMessage[],
  next: readonly ChatMessage[],
): number {
  let tokens = 0;
  for (let i = 0; i < next.length; i++) {
    const a = earlier[i];
    const b = next[i] as ChatMessage;
    if (!a || a.role !== b.role) break;
    if (a.content === b.content) {
      tokens += estimateTokens(b.content) + MESSAGE_OVERHEAD_TOKENS;
      continue;
    }
    const chars = commonPrefixLength(a.content, b.content);
    tokens += MESSAGE_OVERHEAD_TOKENS / 2 + Math.floor(chars / 4);
    break;
  }
  return tokens;
}

const emptyRow = (): PrefixShareRow => ({
  calls: 0,
  promptTokens: 0,
  sharedWithAnyEarlier: 0,
  sharedWithPrevious: 0,
});

/**
 * The shared-prefix share of prompt tokens, per agent and in total, over `tasks`: each task is
 * its calls in the order they were made. Caches are per task here: the first call of a task
 * shares nothing (a run that interleaves tasks, as K > 1 does, gets no more than this).
 */
export function prefixShare(tasks: readonly (readonly PromptCall[])[]): PrefixShareReport {
  const byAgent: Record<string, PrefixShareRow> = {};
  const total = emptyRow();
  for (const calls of tasks) {
    for (const [i, call] of calls.entries()) {
      const engine = call.engine ?? '';
      const earlier = calls.slice(0, i).filter((c) => (c.engine ?? '') === engine);
      const previous = earlier.at(-1);
      const anyEarlier = earlier.reduce(
        (best, c) => Math.max(best, sharedPrefixTokens(c.messages, call.messages)),
        0,
      );
      const row = (byAgent[call.agent] ??= emptyRow());
      for (const r of [row, total]) {
        r.calls++;
        r.promptTokens += estimatePromptTokens(call.messages);
        r.sharedWithAnyEarlier += anyEarlier;
        r.sharedWithPrevious += previous ? sharedPrefixTokens(previous.messages, call.messages) : 0;
      }
    }
  }
  return { byAgent, total };
}

/** `shared ÷ promptTokens` of a row (0 for an empty row). */
export function shareOf(row: PrefixShareRow, cache: 'anyEarlier' | 'previous'): number {
  if (!row.promptTokens) return 0;
  return (
    (cache === 'anyEarlier' ? row.sharedWithAnyEarlier : row.sharedWithPrevious) / row.promptTokens
  );
}
