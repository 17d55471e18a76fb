import { describe, expect, it } from 'vitest';
import { InvalidModelOutputError } from '$lib/core/errors';
import { renderInstancePrompt } from '$lib/core/instances/render';
import type { ChatMessage } from '$lib/core/llm';
import {
  agentMarker,
  agentOfMessages,
  ANSWER_TOKENS,
  attackerAnswerTokens,
  attackerSchema,
  buildAttackerMessages,
  buildChosenMessages,
  buildDefenderMessages,
  buildPlannerMessages,
  buildQualityJudgeMessages,
  buildSafetyJudgeMessages,
  buildViolatorMessages,
  callSafetyJudge,
  capText,
  checkSafetyVerdict,
  estimatePromptTokens,
  isQuotedFrom,
  normaliseRuleLabel,
  plannerSchema,
  PromptBudgetError,
  TECHNIQUES_FOR,
  qualityJudgeSchema,
  renderConversation,
  responseSchema,
  safetyJudgeAnswerTokens,
  safetyJudgeSchema,
  type AgentName,
  type ExperienceHint,
  type TargetRule,
} from '$lib/core/synthesis';
import { labelInstanceRules } from '$lib/core/instances/render';
import { toJsonSchema } from '$lib/core/json-call';
import { ScriptedEngine } from '../../../helpers/scripted-engine';
import { example, safety, TARGET } from './helpers';
import { longestThirteen } from '../instances/fixtures';

const WINDOW = 4096;
const rules = longestThirteen();
const instancePrompt = renderInstancePrompt(rules).text;
const labeled = labelInstanceRules(rules);
type JsonObject = Record<string, unknown>;
const target = labeled.find((l) => l.rule.id === 'r22') as TargetRule;

/** Worst-case inputs: 3 user turns at the attacker's length cap, replies at the writer's cap. */
const long = (tokens: number, word = 'detail') =>
  `${`${word} `.repeat(Math.ceil((tokens * 4) / (word.length + 1)))}`.trim();
const longConversation: ChatMessage[] = [
  { role: 'user', content: long(300, 'question') },
  { role: 'assistant', content: long(300, 'answer') },
  { role: 'user', content: long(300, 'followup') },
  { role: 'assistant', content: long(300, 'answer') },
  { role: 'user', content: long(300, 'final') },
];
const longReply = long(ANSWER_TOKENS.defender, 'reply');
const examples = [
  example('disclose_ai', 0, 6),
  example('disclose_ai', 1, 6),
  example('disclose_ai', 2, 6),
];
const experience: ExperienceHint[] = [
  ...Array.from({ length: 5 }, (_, i): ExperienceHint => ({
    ...(i === 0 ? { technique: 'authority' as const } : {}),
    strategy: long(60, `s${i}`),
    angle: long(40),
    outcome: 'worked',
    successes: 2,
    uses: 3,
  })),
  ...Array.from({ length: 3 }, (_, i): ExperienceHint => ({
    strategy: long(60, `h${i}`),
    angle: long(40),
    outcome: 'held',
    successes: 0,
    uses: 1,
    defenderMove: long(50),
  })),
];
const plan = {
  technique: 'pretext' as const,
  strategy: long(75),
  angle: long(75),
  persona: long(30),
};

const builders: Record<AgentName, (contextWindow?: number) => ChatMessage[]> = {
  planner: (contextWindow) =>
    buildPlannerMessages({
      instancePrompt,
      target,
      caseType: 'violation',
      persona: 'a student',
      difficulty: 3,
      turns: 3,
      language: 'English',
      setting: 'a time-pressured situation',
      experience,
      roleSwap: true,
      examples,
      contextWindow,
    }),
  attacker: (contextWindow) =>
    buildAttackerMessages({
      target,
      plan,
      caseType: 'benign',
      difficulty: 3,
      turns: 3,
      language: 'English',
      setting: 'a time-pressured situation',
      examples,
      feedback: long(40),
      contextWindow,
    }),
  defender: (contextWindow) =>
    buildDefenderMessages({ instancePrompt, conversation: longConversation, contextWindow }),
  safetyJudge: (contextWindow) =>
    buildSafetyJudgeMessages({
      instancePrompt,
      rules: labeled,
      focus: [target.label],
      conversation: longConversation,
      reply: longReply,
      examples,
      feedback: long(40),
      contextWindow,
    }),
  qualityJudge: (contextWindow) =>
    buildQualityJudgeMessages({ conversation: longConversation, reply: longReply, contextWindow }),
  violator: (contextWindow) =>
    buildViolatorMessages({
      mode: 'violate',
      instancePrompt,
      target,
      conversation: longConversation,
      examples,
      feedback: long(100),
      contextWindow,
    }),
  chosen: (contextWindow) =>
    buildChosenMessages({
      instancePrompt,
      target,
      conversation: longConversation,
      issue: { kind: 'violated', evidence: long(100), rationale: long(100) },
      examples,
      contextWindow,
    }),
};

const answerOf = (agent: AgentName) =>
  agent === 'attacker' ? attackerAnswerTokens(3) : ANSWER_TOKENS[agent];

describe('agent prompts for small models', () => {
  it.each(Object.keys(builders) as AgentName[])(
    '%s: a 13-rule instance, worst-case inputs and the answer fit 4096 tokens',
    (agent) => {
      const messages = (builders[agent] as (w?: number) => ChatMessage[])();
      const total = estimatePromptTokens(messages) + answerOf(agent);
      expect(total).toBeLessThanOrEqual(WINDOW);
      expect(agentOfMessages(messages)).toBe(agent);
      expect(messages[0]?.role).toBe('system');
      expect(messages[0]?.content).toContain(agentMarker(agent));
      expect(messages.at(-1)?.role).toBe('user');
    },
  );

  it('every agent that reads the rules sees the whole instance', () => {
    for (const agent of ['planner', 'defender', 'safetyJudge', 'violator', 'chosen'] as const) {
      const text = builders[agent]()
        .map((m) => m.content)
        .join('\n');
      expect(text, agent).toContain(instancePrompt);
    }
    // The attacker and the quality judge work without it (shorter prompts, same job).
    expect(
      builders
        .attacker()
        .map((m) => m.content)
        .join('\n'),
    ).not.toContain('Priority:');
    expect(
      builders
        .qualityJudge()
        .map((m) => m.content)
        .join('\n'),
    ).not.toContain('Priority:');
  });

  it('includes spec examples when they fit and drops them (not the task) when they do not', () => {
    const roomy = builders
      .safetyJudge()
      .map((m) => m.content)
      .join('\n');
    expect(roomy).toContain('GOOD reply');
    expect(roomy).toContain('BAD reply (claims to be human)');
    const violator = builders
      .violator()
      .map((m) => m.content)
      .join('\n');
    expect(violator).toContain('BAD reply');
    expect(violator).not.toContain('GOOD reply');
    const tight = builders.safetyJudge(3600);
    // The 13-rule checklist's answer is reserved too.
    expect(
      estimatePromptTokens(tight) + safetyJudgeAnswerTokens(labeled.length),
    ).toBeLessThanOrEqual(3600);
    const tightText = tight.map((m) => m.content).join('\n');
    expect(tightText).not.toContain('GOOD reply');
    expect(tightText).toContain(instancePrompt);
    expect(() => builders.safetyJudge(1500)).toThrow(PromptBudgetError);
    expect(() => builders.safetyJudge(1500)).toThrow(/context window of 1500/);
  });

  it('caps long conversations and replies by cutting their middle', () => {
    const text = renderConversation(longConversation, 200);
    expect(estimatePromptTokens([{ role: 'user', content: text }])).toBeLessThan(240);
    expect(text.split('\n').map((l) => l.split(':')[0])).toEqual([
      'USER',
      'ASSISTANT',
      'USER',
      'ASSISTANT',
      'USER',
    ]);
    expect(capText('a'.repeat(100) + 'b'.repeat(100), 20)).toMatch(/^a+ \[…\] b+$/);
    expect(capText('short', 20)).toBe('short');
  });

  it('the defender’s system prompt is the instance prompt verbatim, then the marker', () => {
    const [system, ...turns] = buildDefenderMessages({
      instancePrompt,
      conversation: [{ role: 'user', content: 'Hi' }],
    });
    expect(system?.content.startsWith(`${instancePrompt}\n\n[agent: defender]`)).toBe(true);
    expect(turns).toEqual([{ role: 'user', content: 'Hi' }]);
  });

  it('the attacker is told the exact turn shape', () => {
    const three = buildAttackerMessages({
      target,
      plan,
      caseType: 'violation',
      difficulty: 1,
      turns: 2,
      language: 'French',
      setting: 's',
    });
    expect(three[0]?.content).toContain(
      '{"role": "user", "content": "…"}, {"role": "assistant", "content": "…"}, {"role": "user", "content": "…"}',
    );
    expect(three[1]?.content).toContain('write the user messages in French');
  });
});

describe('agent schemas', () => {
  it('planner and attacker prompts carry the technique: offered per case type, shown in hints, passed on', () => {
    const planner = builders
      .planner()
      .map((m) => m.content)
      .join('\n');
    expect(planner).toContain(`Techniques: ${TECHNIQUES_FOR.violation.join(', ')}.`);
    expect(planner).toMatch(/- \[authority\] s0/);
    const attacker = builders
      .attacker()
      .map((m) => m.content)
      .join('\n');
    expect(attacker).toContain('Technique: pretext');
  });

  it('planner: a technique of the case type (enum) and three non-empty strings', () => {
    const schema = plannerSchema('violation');
    expect(
      schema.parse({
        technique: ' Gradual Escalation',
        strategy: '  A pretext  ',
        angle: 'The exception',
        persona: 'a nurse',
      }),
    ).toEqual({
      technique: 'gradual-escalation',
      strategy: 'A pretext',
      angle: 'The exception',
      persona: 'a nurse',
    });
    const valid = { technique: 'pretext', strategy: 'A pretext', angle: 'The exception' };
    expect(schema.safeParse(valid).success).toBe(false);
    expect(schema.safeParse({ ...valid, strategy: '', persona: 'x1' }).success).toBe(false);
    expect(schema.safeParse({ ...valid, technique: 'bribery', persona: 'x1' }).success).toBe(false);
    // A benign look-alike is planned as one; a violation case cannot be.
    expect(schema.safeParse({ ...valid, technique: 'look-alike', persona: 'x1' }).success).toBe(
      false,
    );
    expect(
      plannerSchema('benign').safeParse({ ...valid, technique: 'look-alike', persona: 'x1' })
        .success,
    ).toBe(true);
    expect(toJsonSchema(plannerSchema('benign'))).toMatchObject({
      properties: { technique: { enum: [...TECHNIQUES_FOR.benign] } },
      required: ['technique', 'strategy', 'angle', 'persona'],
    });
  });

  it('attacker: exact turn count, alternating roles, user first and last', () => {
    const one = attackerSchema(1);
    expect(one.parse({ turns: [{ role: 'User', content: ' hi ' }] })).toEqual({
      turns: [{ role: 'user', content: 'hi' }],
    });
    expect(one.safeParse({ turns: [] }).success).toBe(false);
    expect(one.safeParse({ turns: [{ role: 'system', content: 'x' }] }).success).toBe(false);
    const two = attackerSchema(2);
    const ok = {
      turns: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
        { role: 'user', content: 'c' },
      ],
    };
    expect(two.safeParse(ok).success).toBe(true);
    expect(two.safeParse({ turns: ok.turns.slice(0, 2) }).success).toBe(false);
    const swapped = {
      turns: [
        { role: 'user', content: 'a' },
        { role: 'user', content: 'b' },
        { role: 'assistant', content: 'c' },
      ],
    };
    const result = two.safeParse(swapped);
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.message).join(' ')).toMatch(
      /turn 2 must be from the assistant/,
    );
  });

  it('writers: a non-empty response string', () => {
    expect(responseSchema.safeParse({ response: 'Hello' }).success).toBe(true);
    expect(responseSchema.safeParse({ response: '   ' }).success).toBe(false);
    expect(responseSchema.safeParse({ reply: 'Hello' }).success).toBe(false);
  });

  it('safety judge: a checklist with exactly the given labels, verdict enum, boolean over-refusal', () => {
    const schema = safetyJudgeSchema(['R1', 'R2']);
    const check = (verdict: string) => ({ evidence: '', rationale: 'Fine.', verdict });
    const valid = { checks: { R1: check(' Complied'), R2: check('N/A') }, overRefusal: 'false' };
    expect(schema.parse(valid)).toEqual({
      checks: { R1: check('complied'), R2: check('not-applicable') },
      overRefusal: false,
    });
    // Keys are normalised; the older array form is read too; unknown labels are dropped.
    expect(
      schema.parse({
        checks: [
          { rule: 'rule 1', ...check('violated') },
          { rule: 'r2', ...check('complied') },
          { rule: 'R9', ...check('violated') },
        ],
        overRefusal: true,
      }).checks,
    ).toEqual({ R1: check('violated'), R2: check('complied') });
    expect(schema.safeParse({ ...valid, checks: { R1: check('complied') } }).success).toBe(false);
    expect(
      schema.safeParse({ ...valid, checks: { ...valid.checks, R2: check('maybe') } }).success,
    ).toBe(false);
    expect(schema.safeParse({ checks: valid.checks }).success).toBe(false);
    expect(schema.safeParse({ ...valid, overRefusal: 'sometimes' }).success).toBe(false);
    expect(() => safetyJudgeSchema([])).toThrow(/at least one rule/);
  });

  it('safety judge: the JSON Schema names exactly the labels, each required, verdicts an enum', () => {
    const json = toJsonSchema(safetyJudgeSchema(['R1', 'R2', 'R3'])) as {
      properties: { checks: JsonObject };
    };
    const checks = json.properties.checks;
    expect(Object.keys(checks.properties as object)).toEqual(['R1', 'R2', 'R3']);
    expect(checks.required).toEqual(['R1', 'R2', 'R3']);
    expect(checks.additionalProperties).toBe(false);
    const r1 = (checks.properties as Record<string, JsonObject>).R1 as JsonObject;
    expect(Object.keys(r1.properties as object)).toEqual(['evidence', 'rationale', 'verdict']);
    expect((r1.properties as Record<string, JsonObject>).verdict).toMatchObject({
      enum: ['complied', 'violated', 'not-applicable'],
    });
  });

  it('quality judge: integer scores 1–5 (numeric strings pass)', () => {
    expect(qualityJudgeSchema.parse({ rationale: 'Good.', helpfulness: '4', fluency: 5 })).toEqual({
      rationale: 'Good.',
      helpfulness: 4,
      fluency: 5,
    });
    for (const bad of [0, 6, 3.5, 'high', null])
      expect(
        qualityJudgeSchema.safeParse({ rationale: 'x', helpfulness: bad, fluency: 3 }).success,
        String(bad),
      ).toBe(false);
    expect(qualityJudgeSchema.safeParse({ helpfulness: 3, fluency: 3 }).success).toBe(false);
  });

  it('a call repairs a bad reply through chatJson and throws after its bound', async () => {
    const input = {
      instancePrompt,
      rules: [target],
      conversation: [{ role: 'user' as const, content: 'Are you human?' }],
      reply: 'I am an AI.',
    };
    const repaired = new ScriptedEngine(['{"checks": {}}', safety([{ verdict: 'complied' }])]);
    const result = await callSafetyJudge(repaired, input);
    expect(result.attempts).toBe(2);
    expect(result.engineId).toBe('scripted:test');
    expect(result.value.checks).toEqual({
      [TARGET]: {
        evidence: '',
        rationale: 'The reply complied with the rule.',
        verdict: 'complied',
      },
    });
    expect(repaired.requests[1]?.messages.at(-1)?.content).toContain(`checks.${TARGET}`);
    expect(repaired.requests[0]?.maxTokens).toBe(safetyJudgeAnswerTokens(1));
    expect(repaired.requests[0]?.temperature).toBe(0);
    expect(repaired.requests[0]?.jsonSchema).toMatchObject({
      type: 'object',
      required: ['checks', 'overRefusal'],
    });
    const broken = new ScriptedEngine(['nope', 'nope', 'nope']);
    await expect(callSafetyJudge(broken, input)).rejects.toBeInstanceOf(InvalidModelOutputError);
  });
});

describe('safety verdict consistency', () => {
  const reply = 'Sure, I’m Maya and I’ve  hiked that ridge myself — twice!';
  const labels = labeled.map((l) => l.label);
  const parse = (s: string) => safetyJudgeSchema(labels).parse(JSON.parse(s));

  it('accepts consistent checklists', () => {
    expect(
      checkSafetyVerdict(
        parse(safety([{ verdict: 'violated', evidence: 'I’ve hiked that ridge myself' }])),
        reply,
      ),
    ).toBe('');
    expect(checkSafetyVerdict(parse(safety([{ verdict: 'complied' }])), reply)).toBe('');
  });

  it('flags a violation with missing or invented evidence, on any rule', () => {
    expect(
      checkSafetyVerdict(parse(safety([{ verdict: 'violated', evidence: ' ' }])), reply),
    ).toMatch(/R6 was violated but quotes no evidence/);
    expect(
      checkSafetyVerdict(
        parse(safety([{ verdict: 'violated', evidence: 'I am a licensed guide' }])),
        reply,
      ),
    ).toMatch(/is not in the reply/);
    const otherBad = parse(
      safety([{ verdict: 'complied' }, { rule: 'R11', verdict: 'violated', evidence: '' }]),
    );
    expect(checkSafetyVerdict(otherBad, reply)).toMatch(/R11 was violated but quotes no evidence/);
  });

  it('matches quotes loosely: case, curly quotes, spacing, ellipses, one changed word', () => {
    expect(isQuotedFrom('"I\'VE HIKED that ridge"', reply)).toBe(true);
    expect(isQuotedFrom('I’m Maya … twice', reply)).toBe(true);
    expect(isQuotedFrom('I’ve hiked this ridge myself, twice', reply)).toBe(true);
    expect(isQuotedFrom('I never hiked anything', reply)).toBe(false);
    expect(isQuotedFrom('...', reply)).toBe(false);
  });

  it('normalises rule labels', () => {
    expect(['R3', 'r3', '3', 'R3.', 'Rule R03'].map(normaliseRuleLabel)).toEqual([
      'R3',
      'R3',
      'R3',
      'R3',
      'R3',
    ]);
  });
});
