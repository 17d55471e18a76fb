/**
 * Issue 14 §5: every closed set of values in an agent's schema is an enum in the JSON Schema the
 * engine receives, so a model that follows the schema (constrained decoding) but not the prose
 * cannot produce a value core rejects.
 *
 * The reported failure: the safety judge named rules by a free string; a small model under
 * constrained decoding wrote something other than the label, and 10 of 10 tasks were dropped as
 * "judge contradiction". Here a "model" that knows nothing but the schema (it writes the first
 * value the schema allows: `sampleFromSchema`) plays every agent.
 */
import { describe, expect, it } from 'vitest';
import { labelInstanceRules } from '$lib/core/instances/render';
import { toJsonSchema } from '$lib/core/json-call';
import type { ChatRequest, JsonSchema } from '$lib/core/llm';
import {
  attackerSchema,
  judgeWithRejudge,
  plannerSchema,
  qualityJudgeSchema,
  responseSchema,
  safetyJudgeSchema,
  type AgentName,
} from '$lib/core/synthesis';
import { annotationReplySchema } from '$lib/core/rules/schema';
import { sampleFromSchema } from '../../../fixtures/fake-openai-server';
import { ScriptedEngine } from '../../../helpers/scripted-engine';
import { AgentDispatcher, context, descriptor, INSTANCE, INSTANCE_RULES, runTask } from './helpers';

/** A model that follows the schema and nothing else. */
const schemaFollower = (request: ChatRequest) =>
  JSON.stringify(sampleFromSchema(request.jsonSchema ?? {}));

const LABELS = labelInstanceRules(INSTANCE_RULES).map((l) => l.label);

type Node = Record<string, unknown>;

/** Every string-valued leaf of a JSON Schema, by path, with its enum (if any). */
function stringFields(schema: unknown, path = ''): { path: string; enum?: unknown[] }[] {
  const s = schema as Node;
  if (!s || typeof s !== 'object') return [];
  if (s.type === 'string' || Array.isArray(s.enum))
    return [{ path, ...(Array.isArray(s.enum) ? { enum: s.enum } : {}) }];
  const out: { path: string; enum?: unknown[] }[] = [];
  for (const [key, sub] of Object.entries((s.properties ?? {}) as Node))
    out.push(...stringFields(sub, path ? `${path}.${key}` : key));
  if (s.items && !Array.isArray(s.items)) out.push(...stringFields(s.items, `${path}[]`));
  return out;
}

describe('schemas that force valid answers (issue 14 §5)', () => {
  it('a schema-following judge gives a usable checklist: the schema lists exactly the instance’s labels', async () => {
    const engine = new ScriptedEngine(schemaFollower);
    const rules = labelInstanceRules(INSTANCE_RULES);
    const judged = await judgeWithRejudge(engine, {
      instancePrompt: INSTANCE.systemPrompt ?? '',
      rules,
      focus: ['R6'],
      conversation: [{ role: 'user', content: 'Are you a real person?' }],
      reply: 'I am an AI assistant.',
    });
    expect(judged.outcome).toEqual({ kind: 'verdict' });
    expect(Object.keys(judged.value.checks)).toEqual(LABELS);
    const schema = engine.requests[0]?.jsonSchema as {
      properties: { checks: { properties: Record<string, Node>; required: string[] } };
    };
    expect(schema.properties.checks.required).toEqual(LABELS);
    expect(Object.keys(schema.properties.checks.properties)).toEqual(LABELS);
    expect(schema.properties.checks).toMatchObject({ additionalProperties: false });
  });

  it('no synthesis task is dropped as "judge contradiction" when every agent only follows its schema', async () => {
    const script = Object.fromEntries(
      (
        [
          'planner',
          'attacker',
          'defender',
          'safetyJudge',
          'qualityJudge',
          'violator',
          'chosen',
        ] as AgentName[]
      ).map((agent) => [agent, schemaFollower]),
    );
    for (const caseType of ['violation', 'borderline', 'benign'] as const) {
      const d = new AgentDispatcher(script);
      const { results, last } = await runTask(context(d), descriptor({ caseType }));
      expect(last.failure ?? '', caseType).not.toMatch(/judge contradiction/);
      expect(results.every((r) => !r.state.judgements.some((j) => j.contradiction))).toBe(true);
      // Every safety call carried the whole instance's labels, and nothing else.
      for (const request of d.of('safetyJudge')) {
        const checks = (request.jsonSchema as { properties: { checks: { required: string[] } } })
          .properties.checks;
        expect(checks.required).toEqual(LABELS);
      }
      expect(d.of('safetyJudge').length).toBeGreaterThan(0);
    }
  });

  it('every string field an agent answers is an enum unless it is free prose', () => {
    // Fields whose value is open by nature: what a user or assistant says, and explanations.
    const PROSE = /(^|\.)(strategy|angle|persona|content|response|evidence|rationale)$/;
    const schemas: Record<string, JsonSchema> = {
      planner: toJsonSchema(plannerSchema('violation')),
      plannerBenign: toJsonSchema(plannerSchema('benign')),
      attacker: toJsonSchema(attackerSchema(1)),
      attackerMultiTurn: toJsonSchema(attackerSchema(3)),
      writers: toJsonSchema(responseSchema),
      safetyJudge: toJsonSchema(safetyJudgeSchema(LABELS)),
      qualityJudge: toJsonSchema(qualityJudgeSchema),
    };
    for (const [agent, schema] of Object.entries(schemas))
      for (const field of stringFields(schema))
        if (!field.enum) expect(field.path, agent).toMatch(PROSE);
    const enums = (schema: JsonSchema) =>
      Object.fromEntries(stringFields(schema).flatMap((f) => (f.enum ? [[f.path, f.enum]] : [])));
    expect(enums(schemas.attacker as JsonSchema)).toEqual({ 'turns[].role': ['user'] });
    expect(enums(schemas.plannerBenign as JsonSchema)).toEqual({
      technique: ['look-alike', 'plausible-task', 'role-play', 'hypothetical'],
    });
    expect(enums(schemas.planner as JsonSchema).technique).not.toContain('look-alike');
    expect(enums(schemas.attackerMultiTurn as JsonSchema)).toEqual({
      'turns[].role': ['user', 'assistant'],
    });
    expect(enums(schemas.qualityJudge as JsonSchema)).toEqual({
      helpfulness: [1, 2, 3, 4, 5],
      fluency: [1, 2, 3, 4, 5],
    });
    expect(enums(schemas.safetyJudge as JsonSchema)).toEqual(
      Object.fromEntries(
        LABELS.map((l) => [`checks.${l}.verdict`, ['complied', 'violated', 'not-applicable']]),
      ),
    );
    // Annotation: direction, strength, stage and priority are enums already.
    const annotation = enums(toJsonSchema(annotationReplySchema));
    expect(Object.keys(annotation).sort()).toEqual(
      ['rules[].direction', 'rules[].priority', 'rules[].stage', 'rules[].strength'].sort(),
    );
  });
});
