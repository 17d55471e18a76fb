/** The prompt tokens a server says it evaluated (issue 13 §2), read from its reply. */
import { describe, expect, it } from 'vitest';
import { toChatResult } from '$lib/engines/openai-protocol';

const request = { messages: [{ role: 'user' as const, content: 'Hi' }] };
const reply = (extra: Record<string, unknown> = {}, usage: Record<string, unknown> = {}) => ({
  choices: [{ message: { content: 'ok' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 900, completion_tokens: 3, ...usage },
  ...extra,
});

describe('toChatResult prefill', () => {
  it('reads cached_tokens (vLLM prefix caching, OpenAI) as tokens not evaluated', () => {
    const result = toChatResult(
      reply({}, { prompt_tokens_details: { cached_tokens: 800 } }),
      request,
      'http://x',
      1,
    );
    expect(result.usage).toEqual({
      promptTokens: 900,
      completionTokens: 3,
      prefill: { sent: 900, evaluated: 100 },
    });
  });

  it("reads llama-server's timings.prompt_n when there is no cached_tokens", () => {
    const result = toChatResult(reply({ timings: { prompt_n: 120 } }), request, 'http://x', 1);
    expect(result.usage.prefill).toEqual({ sent: 900, evaluated: 120 });
  });

  it('reports nothing when the server says nothing, or gives no prompt_tokens', () => {
    expect(toChatResult(reply(), request, 'http://x', 1).usage.prefill).toBeUndefined();
    const noUsage = { choices: [{ message: { content: 'ok' } }], timings: { prompt_n: 1 } };
    expect(toChatResult(noUsage, request, 'http://x', 1).usage.prefill).toBeUndefined();
  });
});
