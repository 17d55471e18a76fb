import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '$lib/core/llm';
import { estimatePromptTokens, MESSAGE_OVERHEAD_TOKENS } from '$lib/core/synthesis';
import {
  prefixShare,
  shareOf,
  sharedPrefixTokens,
  type PromptCall,
} from '$lib/core/synthesis/prefix-share';

const RULES = 'R'.repeat(400); // 100 tokens
const sys = (role: string): ChatMessage => ({ role: 'system', content: `${RULES}\n\n${role}` });
const user = (content: string): ChatMessage => ({ role: 'user', content });

describe('sharedPrefixTokens', () => {
  it('counts identical leading messages whole, with their overhead', () => {
    const a = [sys('ROLE'), user('one')];
    expect(sharedPrefixTokens(a, a)).toBe(estimatePromptTokens(a));
    expect(sharedPrefixTokens(a, [sys('ROLE'), user('two')])).toBe(
      estimatePromptTokens([sys('ROLE')]) + MESSAGE_OVERHEAD_TOKENS / 2,
    );
  });

  it('counts the common characters of the first differing message at ≈ 4 per token', () => {
    // 402 common characters ("RRR…\n\n") → 100 tokens + the message header.
    expect(sharedPrefixTokens([sys('planner')], [sys('attacker')])).toBe(
      MESSAGE_OVERHEAD_TOKENS / 2 + Math.floor(402 / 4),
    );
  });

  it('shares nothing when the first message differs in role or starts differently', () => {
    expect(sharedPrefixTokens([user(RULES)], [sys('x')])).toBe(0);
    expect(sharedPrefixTokens([sys('x')], [{ role: 'system', content: `x${RULES}` }])).toBe(
      MESSAGE_OVERHEAD_TOKENS / 2,
    );
    expect(sharedPrefixTokens([], [sys('x')])).toBe(0);
  });

  it('never exceeds the later call’s own prompt', () => {
    const long = [sys('ROLE'), user('question'), { role: 'assistant' as const, content: 'a' }];
    const short = [sys('ROLE'), user('question')];
    expect(sharedPrefixTokens(long, short)).toBe(estimatePromptTokens(short));
  });
});

describe('prefixShare', () => {
  it('reports any-earlier and previous-call shares per agent and in total', () => {
    const planner: PromptCall = { agent: 'planner', messages: [sys('PLAN'), user('target')] };
    const attacker: PromptCall = { agent: 'attacker', messages: [sys('ATTACK'), user('plan')] };
    // The second planner call repeats the first exactly: all of it is in the cache of "any
    // earlier" call, only the instance part is in the previous (attacker) call's.
    const again: PromptCall = { agent: 'planner', messages: [sys('PLAN'), user('target')] };
    const report = prefixShare([[planner, attacker, again]]);
    const p = report.byAgent.planner;
    expect(p?.calls).toBe(2);
    expect(p?.promptTokens).toBe(2 * estimatePromptTokens(planner.messages));
    expect(p?.sharedWithAnyEarlier).toBe(estimatePromptTokens(planner.messages));
    const instanceShare = sharedPrefixTokens(attacker.messages, again.messages);
    expect(p?.sharedWithPrevious).toBe(instanceShare);
    expect(report.byAgent.attacker?.sharedWithPrevious).toBe(
      sharedPrefixTokens(planner.messages, attacker.messages),
    );
    expect(report.total.calls).toBe(3);
    expect(report.total.promptTokens).toBe(
      [planner, attacker, again].reduce((n, c) => n + estimatePromptTokens(c.messages), 0),
    );
    expect(shareOf(report.total, 'anyEarlier')).toBeGreaterThan(shareOf(report.total, 'previous'));
  });

  it('shares nothing across tasks or across engines', () => {
    const call = (engine?: string): PromptCall => ({
      agent: 'defender',
      messages: [sys('DEFEND'), user('hello')],
      ...(engine ? { engine } : {}),
    });
    expect(prefixShare([[call()], [call()]]).total.sharedWithAnyEarlier).toBe(0);
    const split = prefixShare([[call('a'), call('b'), call('a')]]).total;
    expect(split.sharedWithPrevious).toBe(estimatePromptTokens(call().messages));
    expect(split.sharedWithAnyEarlier).toBe(estimatePromptTokens(call().messages));
  });

  it('gives 0 for an empty row', () => {
    const { total } = prefixShare([]);
    expect(shareOf(total, 'anyEarlier')).toBe(0);
    expect(shareOf(total, 'previous')).toBe(0);
  });
});
