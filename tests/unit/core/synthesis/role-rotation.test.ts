import { describe, expect, it } from 'vitest';
import { engineKey, type EngineConfig } from '$lib/core/engine-config';
import {
  assignTaskRoles,
  configuredModels,
  describeRunRoles,
  rotationCycle,
  type TaskRoles,
} from '$lib/core/synthesis/role-rotation';

const pairsOf = (roles: (TaskRoles | undefined)[]) =>
  roles.map((r) => `${r?.attacker}→${r?.defender}`);

describe('assignTaskRoles', () => {
  it('assigns nothing without options, and the target as defender with the on-policy option', () => {
    expect(assignTaskRoles(0, {})).toBeUndefined();
    expect(assignTaskRoles(5, { rotate: ['a'] })).toBeUndefined();
    expect(assignTaskRoles(3, { defenderTarget: 't' })).toEqual({
      defender: 't',
      defenderIsTarget: true,
    });
  });

  it('swaps two models task by task: A attacks B, then B attacks A', () => {
    const roles = Array.from({ length: 4 }, (_, i) => assignTaskRoles(i, { rotate: ['A', 'B'] }));
    expect(pairsOf(roles)).toEqual(['A→B', 'B→A', 'A→B', 'B→A']);
    expect(roles.map((r) => r?.slot)).toEqual([0, 1, 0, 1]);
    expect(roles.every((r) => r?.defenderIsTarget === false)).toBe(true);
  });

  it('is balanced over a cycle of n(n−1) tasks: every ordered pair once, never a model against itself', () => {
    for (const n of [2, 3, 4, 5]) {
      const models = Array.from({ length: n }, (_, i) => `m${i}`);
      const cycle = rotationCycle({ rotate: models });
      expect(cycle).toBe(n * (n - 1));
      const roles = Array.from({ length: cycle }, (_, i) => assignTaskRoles(i, { rotate: models }));
      const pairs = pairsOf(roles);
      expect(new Set(pairs).size, `n=${n}`).toBe(cycle);
      expect(roles.every((r) => r?.attacker !== r?.defender)).toBe(true);
      for (const m of models) {
        expect(roles.filter((r) => r?.attacker === m)).toHaveLength(n - 1);
        expect(roles.filter((r) => r?.defender === m)).toHaveLength(n - 1);
      }
      // Within any n consecutive tasks every model attacks once.
      for (let start = 0; start + n <= 3 * cycle; start++) {
        const attackers = Array.from(
          { length: n },
          (_, i) => assignTaskRoles(start + i, { rotate: models })?.attacker,
        );
        expect(new Set(attackers).size).toBe(n);
      }
    }
  });

  it('is a pure function of the task order: the same at any K, in any order, after a JSON round trip', () => {
    const options = { rotate: ['x', 'y', 'z'] };
    const forward = Array.from({ length: 30 }, (_, i) => assignTaskRoles(i, options));
    // Tasks finish in any order at K > 1; a reload reads the stored assignment back.
    const shuffled = [17, 3, 29, 0, 11, 25, 8].map(
      (i) => [i, assignTaskRoles(i, options)] as const,
    );
    for (const [i, roles] of shuffled) expect(roles).toEqual(forward[i]);
    expect(JSON.parse(JSON.stringify(forward))).toEqual(forward);
  });

  it('with the on-policy defender, rotates only the attacker among the other models', () => {
    const options = { defenderTarget: 't', rotate: ['a', 't', 'b'] };
    const roles = Array.from({ length: 4 }, (_, i) => assignTaskRoles(i, options));
    expect(roles.map((r) => r?.defender)).toEqual(['t', 't', 't', 't']);
    expect(roles.map((r) => r?.attacker)).toEqual(['a', 'b', 'a', 'b']);
    expect(roles.every((r) => r?.defenderIsTarget)).toBe(true);
    expect(rotationCycle(options)).toBe(2);
  });

  it('ignores duplicate models and refuses a negative or fractional order', () => {
    expect(pairsOf([0, 1].map((i) => assignTaskRoles(i, { rotate: ['A', 'B', 'A'] })))).toEqual([
      'A→B',
      'B→A',
    ]);
    expect(() => assignTaskRoles(-1, { rotate: ['A', 'B'] })).toThrow(/whole number/);
    expect(() => assignTaskRoles(1.5, { rotate: ['A', 'B'] })).toThrow(/whole number/);
  });
});

describe('describeRunRoles', () => {
  const models = { 'k:a': { kind: 'openai', model: 'a' }, 'k:t': { kind: 'openai', model: 't' } };
  it('says who attacks and defends, by model name', () => {
    expect(describeRunRoles({ v: 2 })).toBeUndefined();
    expect(describeRunRoles(undefined)).toBeUndefined();
    expect(describeRunRoles({ roles: { defenderTarget: 'k:t', rotate: [], models } })).toBe(
      'the evaluation target (t) defends every task',
    );
    expect(describeRunRoles({ roles: { rotate: ['k:a', 'k:t'], models } })).toBe(
      'attacker and defender rotate among a, t',
    );
    expect(
      describeRunRoles({ roles: { defenderTarget: 'k:t', rotate: ['k:a', 'k:t'], models } }),
    ).toBe('the evaluation target (t) defends every task; the attacker rotates among a');
  });
});

describe('configuredModels', () => {
  it('lists each distinct model once with the roles it serves', () => {
    const small: EngineConfig = { kind: 'openai', baseUrl: 'http://h/v1', model: 'small' };
    const big: EngineConfig = { kind: 'openai', baseUrl: 'http://h/v1', model: 'big' };
    const models = configuredModels({
      defaultModel: big,
      roleModels: { target: small, attacker: small },
    });
    expect(models.map((m) => m.key)).toEqual([engineKey(big), engineKey(small)]);
    expect(models[1]?.roles).toEqual(['attacker', 'target']);
    expect(models[0]?.roles).toContain('defender');
    expect(configuredModels({})).toEqual([]);
  });
});
