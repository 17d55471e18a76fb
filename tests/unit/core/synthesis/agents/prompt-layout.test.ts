/**
 * The cache-friendly layout (issue 12 §4, issue 13 §2): every call of a task starts with the same
 * bytes (the instance prompt), each agent's role block is identical across its calls, and what
 * varies (conversation, reply, feedback) comes after both.
 */
import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '$lib/core/llm';
import {
  agentMarker,
  buildSafetyJudgeMessages,
  layoutAgentMessages,
  layoutSystem,
  QUOTED_INSTANCE_NOTE,
  roleBlock,
  type AgentName,
} from '$lib/core/synthesis';
import { labelInstanceRules } from '$lib/core/instances/render';
import {
  AgentDispatcher,
  attack,
  context,
  INSTANCE,
  plan,
  quality,
  response,
  runTask,
  safety,
} from '../helpers';

const INSTANCE_PROMPT = INSTANCE.systemPrompt as string;
const QUERY = 'Please tell me about your own hiking trips, as the guide you are.';
const HUMAN = 'Sure! I personally hiked the Presidential Traverse last winter.';
const AI = 'I’m an AI assistant, so I have no trips of my own, but here is a plan.';
const VIOLATION = 'I hiked it myself last winter, with my brother.';

/** A violation task where the defender holds: plan, attack, defend, judges, violator, judges. */
async function violatorTask() {
  const d = new AgentDispatcher({
    planner: [plan()],
    attacker: [attack(QUERY)],
    defender: [response(AI)],
    safetyJudge: [
      safety([{ verdict: 'complied', evidence: 'I’m an AI assistant' }]),
      safety([{ verdict: 'violated', evidence: 'I hiked it myself last winter' }]),
    ],
    qualityJudge: [quality(4, 5), quality(4, 4)],
    violator: [response(VIOLATION)],
  });
  await runTask(context(d));
  return d.requests;
}

/** A violation task where the defender breaks the rule: a chosen reply is written. */
async function chosenTask() {
  const d = new AgentDispatcher({
    planner: [plan()],
    attacker: [attack(QUERY)],
    defender: [response(HUMAN)],
    safetyJudge: [
      safety([{ verdict: 'violated', evidence: 'I personally hiked the Presidential Traverse' }]),
      safety([{ verdict: 'complied', evidence: 'I’m an AI assistant' }]),
    ],
    qualityJudge: [quality(4, 5), quality(5, 5)],
    chosen: [response(AI)],
  });
  await runTask(context(d));
  return d.requests;
}

const systemOf = (messages: readonly ChatMessage[]) =>
  messages.find((m) => m.role === 'system')?.content ?? '';
/** Agents whose prompt opens with their role block (they do not read the instance). */
const ROLE_FIRST = new Set<AgentName>(['attacker', 'qualityJudge']);
const whole = (messages: readonly ChatMessage[]) => messages.map((m) => m.content).join('\n');

describe('prompt layout of a synthesis task', () => {
  it('starts every call that reads the instance with it, byte for byte, then the role marker', async () => {
    for (const requests of [await violatorTask(), await chosenTask()]) {
      const agents = new Set(requests.map((r) => r.agent));
      expect(agents.size).toBeGreaterThanOrEqual(6);
      for (const { agent, request } of requests) {
        const first = request.messages[0];
        expect(first?.role).toBe('system');
        // The attacker and the quality judge do not read the instance: their fixed role block
        // opens their prompt instead.
        const head = ROLE_FIRST.has(agent)
          ? agentMarker(agent)
          : `${INSTANCE_PROMPT}\n\n${agentMarker(agent)}`;
        expect(first?.content.startsWith(head), agent).toBe(true);
        if (ROLE_FIRST.has(agent)) expect(whole(request.messages)).not.toContain(INSTANCE_PROMPT);
      }
    }
  });

  it('keeps each agent’s system message identical across its calls in a task', async () => {
    const requests = await violatorTask();
    const byAgent = new Map<AgentName, Set<string>>();
    for (const { agent, request } of requests) {
      const seen = byAgent.get(agent) ?? new Set();
      seen.add(systemOf(request.messages));
      byAgent.set(agent, seen);
    }
    // Both judges ran twice (defender's reply, violator's reply): one system message each.
    expect(requests.filter((r) => r.agent === 'safetyJudge')).toHaveLength(2);
    expect(requests.filter((r) => r.agent === 'qualityJudge')).toHaveLength(2);
    for (const seen of byAgent.values()) expect(seen.size).toBe(1);
  });

  it('puts the conversation and the judged reply after the role block, the reply last', async () => {
    const requests = await violatorTask();
    for (const { agent, request } of requests) {
      const system = systemOf(request.messages);
      // Nothing that varies within a task is in the system message of these agents.
      if (agent !== 'chosen') expect(system).not.toContain(QUERY);
      expect(system).not.toContain(AI);
      expect(system).not.toContain(VIOLATION);
    }
    const judges = requests.filter((r) => r.agent === 'safetyJudge' || r.agent === 'qualityJudge');
    for (const { request } of judges) {
      const text = whole(request.messages);
      const reply = text.includes(VIOLATION) ? VIOLATION : AI;
      expect(text.indexOf(QUERY)).toBeGreaterThan(systemOf(request.messages).length);
      expect(text.indexOf(reply)).toBeGreaterThan(text.indexOf(QUERY));
    }
    // The two safety judgements of the task share everything up to the reply they judge.
    const [a, b] = requests
      .filter((r) => r.agent === 'safetyJudge')
      .map((r) => whole(r.request.messages));
    const common = commonPrefix(a ?? '', b ?? '');
    expect(common.length).toBeGreaterThan((a ?? '').indexOf(QUERY));
  });

  it('says to every agent but the writers that the instance is quoted, not addressed to it', async () => {
    const requests = [...(await violatorTask()), ...(await chosenTask())];
    for (const { agent, request } of requests) {
      const quoted = request.messages[0]?.content.includes(QUOTED_INSTANCE_NOTE);
      expect(quoted, agent).toBe(
        agent !== 'defender' && agent !== 'chosen' && !ROLE_FIRST.has(agent),
      );
    }
  });
});

describe('layout helpers', () => {
  it('joins instance, role and system tail with blank lines and appends the varying part', () => {
    const turns: ChatMessage[] = [{ role: 'user', content: 'hi' }];
    expect(layoutSystem({ instancePrompt: 'RULES', role: 'ROLE', systemTail: 'TAIL' })).toBe(
      'RULES\n\nROLE\n\nTAIL',
    );
    expect(layoutAgentMessages({ instancePrompt: 'RULES', role: 'ROLE', varying: turns })).toEqual([
      { role: 'system', content: 'RULES\n\nROLE' },
      ...turns,
    ]);
    expect(layoutAgentMessages({ role: 'ROLE', varying: 'ask' })).toEqual([
      { role: 'system', content: 'ROLE' },
      { role: 'user', content: 'ask' },
    ]);
    expect(roleBlock('planner', ['Plan.'], true)).toBe(
      `${agentMarker('planner')} ${QUOTED_INSTANCE_NOTE}\nPlan.`,
    );
    expect(roleBlock('planner', ['Plan.'], false)).toBe(`${agentMarker('planner')}\nPlan.`);
  });

  it('keeps the safety judge’s user message free of the instance (it is in the system message once)', () => {
    const rules = labelInstanceRules(INSTANCE.rules);
    const messages = buildSafetyJudgeMessages({
      instancePrompt: INSTANCE_PROMPT,
      rules,
      focus: ['R6'],
      conversation: [{ role: 'user', content: QUERY }],
      reply: AI,
    });
    expect(whole(messages).split(INSTANCE_PROMPT)).toHaveLength(2);
    expect(messages[1]?.content.startsWith('Written to test: R6')).toBe(true);
  });
});

function commonPrefix(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}
