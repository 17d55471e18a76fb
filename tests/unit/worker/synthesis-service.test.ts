import { describe, expect, it } from 'vitest';
import type { Project } from '$lib/core/records';
import { rolePrices } from '$lib/worker/synthesis-service';

describe('rolePrices', () => {
  it("takes each role's own model, else the default, and prices only endpoints with a price", () => {
    const price = { inputPerMillion: 0.15, outputPerMillion: 0.6 };
    const project = {
      defaultModel: { kind: 'openai', baseUrl: 'http://a/v1', model: 'big', price },
      roleModels: {
        attacker: { kind: 'webllm', model: 'small' },
        safetyJudge: { kind: 'openai', baseUrl: 'http://b/v1', model: 'judge' },
      },
    } as unknown as Project;
    const prices = rolePrices(project);
    expect(prices.defender).toEqual(price);
    expect(prices.planner).toEqual(price);
    expect(prices.attacker).toBeUndefined();
    expect(prices.safetyJudge).toBeUndefined();
    expect(rolePrices(undefined)).toEqual({});
  });
});
