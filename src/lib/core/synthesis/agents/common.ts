/**
 * What every synthesis agent shares: names and roles, the marker that tags each prompt, token
 * budgeting for small models, schema helpers, the rendering of conversations, rules and spec
 * examples, and the one call helper over `chatJson`.
 *
 * Method choices (the paper publishes no prompts):
 * - **Marker**: every agent's system message carries `[agent: <name>]`. It costs ~4 tokens and
 *   lets logs, engines' request traces and the scripted test engine tell calls apart. The
 *   defender's marker sits after the instance prompt, so the instance text itself (what the pair's
 *   prompt and the trained model contain) stays clean.
 * - **Budget**: prompts are sized for a 4096-token window with the answer's `maxTokens` reserved.
 *   Conversations and replies shown to agents are capped ({@link CONVERSATION_TOKENS},
 *   {@link REPLY_TOKENS}) by cutting the middle, and spec examples are included only while they
 *   fit ({@link EXAMPLE_TOKENS} and the window). A prompt that still does not fit throws
 *   {@link PromptBudgetError} (only an instance far beyond its render budget can cause that).
 * - **Lenient schemas** where leniency is safe: strings are trimmed and cut (not rejected) at
 *   their cap, enum words are lowercased, scores accept numeric strings. The JSON Schema sent to
 *   constrained decoders still lists every field as required.
 * - **Closed sets are enums** in the JSON Schema sent to the engine (issue 14 §5): verdicts,
 *   scores, turn roles, and the rule labels of the instance (the safety judge's schema is built
 *   per call from them), so constrained decoding cannot produce a value core would reject.
 */
import { z } from 'zod';
import type { AgentRole } from '../../engine-config';
import { SpecAlignError } from '../../errors';
import { chatJson, type JsonCallResult } from '../../json-call';
import { estimateTokens, type ChatEngine, type ChatMessage, type TokenUsage } from '../../llm';
import type { Rule, SpecExample } from '../../records';
import { renderRuleLine } from '../../instances/render';

/** The agents of synthesis (METHOD.md §3). `chosen` is the defender writing with guidance. */
export const AGENT_NAMES = [
  'planner',
  'attacker',
  'defender',
  'safetyJudge',
  'qualityJudge',
  'violator',
  'chosen',
] as const;
/** One of {@link AGENT_NAMES}. */
export type AgentName = (typeof AGENT_NAMES)[number];

/** The engine role each agent runs on (a project may give each role its own model). */
export const AGENT_ROLE: Record<AgentName, AgentRole> = {
  planner: 'planner',
  attacker: 'attacker',
  defender: 'defender',
  safetyJudge: 'safetyJudge',
  qualityJudge: 'qualityJudge',
  violator: 'violator',
  chosen: 'defender',
};

/** The context window the prompts are designed for. */
export const DEFAULT_CONTEXT_WINDOW = 4096;
/** Chat-template tokens per message (role markers, separators), added to every estimate. */
export const MESSAGE_OVERHEAD_TOKENS = 8;
/** Most tokens of conversation shown to an agent. */
export const CONVERSATION_TOKENS = 900;
/** Most tokens of a reply shown to a judge or writer. */
export const REPLY_TOKENS = 700;
/** Most tokens of spec examples in one prompt. */
export const EXAMPLE_TOKENS = 450;

/** Default `maxTokens` per agent (the answer reserved in the window). */
export const ANSWER_TOKENS: Record<AgentName, number> = {
  planner: 200,
  attacker: 350,
  defender: 600,
  /** The checklist's fixed part; it adds `CHECKLIST_TOKENS_PER_RULE` per rule (safety-judge.ts). */
  safetyJudge: 100,
  qualityJudge: 200,
  violator: 600,
  chosen: 600,
};

/** Extra answer tokens per additional user turn the attacker writes (two messages each). */
export const ATTACKER_TOKENS_PER_EXTRA_TURN = 250;

/** Default sampling temperature per agent: judges deterministic, writers varied. */
export const AGENT_TEMPERATURE: Record<AgentName, number> = {
  planner: 0.9,
  attacker: 0.9,
  defender: 0.7,
  safetyJudge: 0,
  qualityJudge: 0,
  violator: 0.8,
  chosen: 0.7,
};

/** The tag in an agent's system message. */
export function agentMarker(name: AgentName): string {
  return `[agent: ${name}]`;
}

/** Which agent a request is for, read from its marker (for logs and test doubles). */
export function agentOfMessages(messages: readonly ChatMessage[]): AgentName | undefined {
  const system = messages.find((m) => m.role === 'system')?.content ?? '';
  const match = /\[agent: (\w+)\]/.exec(system);
  const name = match?.[1];
  return (AGENT_NAMES as readonly string[]).includes(name ?? '') ? (name as AgentName) : undefined;
}

/** A prompt cannot fit the model's context window. */
export class PromptBudgetError extends SpecAlignError {}

/** Token estimate of a message list: content plus per-message overhead. */
export function estimatePromptTokens(messages: readonly ChatMessage[]): number {
  return messages.reduce((n, m) => n + estimateTokens(m.content) + MESSAGE_OVERHEAD_TOKENS, 0);
}

/** A user/assistant conversation (no system message); the last turn is the user's. */
export type Conversation = ChatMessage[];

/** A rule with its instance label. */
export interface TargetRule {
  label: string;
  rule: Rule;
}

/** Sizing and example inputs every prompt builder accepts. */
export interface PromptSizing {
  /** Context window of the answering model; default {@link DEFAULT_CONTEXT_WINDOW}. */
  contextWindow?: number;
  /** Tokens reserved for the answer; default the agent's {@link ANSWER_TOKENS}. */
  answerTokens?: number;
}

// ---------------------------------------------------------------------------------------------
// Schema helpers

const normaliseWord = (value: unknown): unknown =>
  typeof value === 'string' ? value.trim().toLowerCase() : value;

/** An enum that accepts any case and surrounding spaces. */
export const word = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.preprocess(normaliseWord, z.enum(values));

/** A trimmed string of at least `min` characters, cut (not rejected) at `max`. */
export const text = (min: number, max: number) =>
  z.preprocess(
    (value) => (typeof value === 'string' ? value.trim().slice(0, max) : value),
    z.string().min(min).max(max),
  );

/**
 * An integer score 1–5; numeric strings ("4") pass. An enum of the five values rather than an
 * integer range: every constrained decoder honours `enum`, not all honour `minimum`/`maximum`.
 */
export const score = () =>
  z.preprocess(
    (value) => (typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value),
    z.literal([1, 2, 3, 4, 5]),
  );

/** The reply every writing agent (defender, chosen, violator) returns. */
export const responseSchema = z.object({
  response: text(1, 6000).describe('The reply to the user, as plain text.'),
});
/** A writer's reply. */
export type ResponseOutput = z.output<typeof responseSchema>;

// ---------------------------------------------------------------------------------------------
// Rendering

/** Cuts `content` to about `tokens` tokens by removing its middle (both ends carry meaning). */
export function capText(content: string, tokens: number): string {
  if (estimateTokens(content) <= tokens) return content;
  const keep = Math.max(0, tokens * 4 - 12);
  const head = Math.ceil(keep * 0.6);
  return `${content.slice(0, head).trimEnd()} […] ${content.slice(content.length - (keep - head)).trimStart()}`;
}

/** A conversation as labelled lines, capped at `tokens` (earlier turns shrink first). */
export function renderConversation(
  conversation: readonly ChatMessage[],
  tokens = CONVERSATION_TOKENS,
): string {
  const turns = conversation.filter((m) => m.role !== 'system');
  const label = (m: ChatMessage) => (m.role === 'user' ? 'USER' : 'ASSISTANT');
  const total = turns.reduce((n, m) => n + estimateTokens(m.content) + 2, 0);
  if (total <= tokens) return turns.map((m) => `${label(m)}: ${m.content}`).join('\n');
  // The last user turn keeps up to half the budget; earlier turns share the rest evenly.
  const last = turns.at(-1);
  const earlier = turns.slice(0, -1);
  const lastBudget = earlier.length ? Math.floor(tokens / 2) : tokens;
  const each = earlier.length ? Math.floor((tokens - lastBudget) / earlier.length) : 0;
  return [
    ...earlier.map((m) => `${label(m)}: ${capText(m.content, Math.max(8, each - 2))}`),
    ...(last ? [`${label(last)}: ${capText(last.content, lastBudget - 2)}`] : []),
  ].join('\n');
}

/** A rule with label, tags and conditions, as agents see their target. */
export function renderTarget(target: TargetRule): string {
  const { rule } = target;
  return `${renderRuleLine(target.label, rule)}\n   (${rule.direction === 'negative' ? 'a prohibition' : 'an obligation'}; stage: ${rule.stage}; domain: ${rule.domain})`;
}

/** Which parts of spec examples a prompt shows. */
export type ExampleView = 'both' | 'good' | 'bad' | 'request';

/**
 * Spec examples as compact text within `tokens`: each example's last user turn and, per `view`,
 * its GOOD and/or BAD replies (each cut to ~90 tokens). Examples that do not fit are left out
 * whole. Returns '' when none fits.
 */
export function renderExamples(
  examples: readonly SpecExample[],
  view: ExampleView,
  tokens = EXAMPLE_TOKENS,
): string {
  const blocks: string[] = [];
  let used = 0;
  for (const example of examples) {
    const request = [...example.turns].reverse().find((t) => t.role === 'user')?.content;
    if (!request) continue;
    const lines = [`Example${example.title ? ` (${oneLine(example.title)})` : ''}:`];
    lines.push(`  USER: ${capText(oneLine(request), 90)}`);
    for (const c of example.comparisons) {
      if (view === 'request') break;
      if (view === 'good' && c.verdict !== 'good') continue;
      if (view === 'bad' && c.verdict !== 'bad') continue;
      const note = c.note ? ` (${oneLine(c.note)})` : '';
      lines.push(
        `  ${c.verdict === 'good' ? 'GOOD' : 'BAD'} reply${note}: ${capText(oneLine(c.content), 90)}`,
      );
    }
    const block = lines.join('\n');
    const cost = estimateTokens(block) + 1;
    if (used + cost > tokens) continue;
    blocks.push(block);
    used += cost;
  }
  return blocks.join('\n');
}

function oneLine(value: string): string {
  return value.replace(/\s+/g, ' ').trim();
}

/**
 * Builds a prompt with as many of the optional parts as fit: calls `build` with `withExamples`
 * true first, then false; throws {@link PromptBudgetError} when even the lean prompt is too big.
 */
export function fitPrompt(
  agent: AgentName,
  build: (withExamples: boolean) => ChatMessage[],
  sizing: PromptSizing,
): ChatMessage[] {
  const window = sizing.contextWindow ?? DEFAULT_CONTEXT_WINDOW;
  const answer = sizing.answerTokens ?? ANSWER_TOKENS[agent];
  for (const withExamples of [true, false]) {
    const messages = build(withExamples);
    if (estimatePromptTokens(messages) + answer <= window) return messages;
  }
  const lean = estimatePromptTokens(build(false));
  throw new PromptBudgetError(
    `The ${agent} prompt needs about ${lean} tokens plus ${answer} for the answer, over the model's context window of ${window}. Use a model with a larger context or smaller instances.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Calling

/** Per-call options every agent helper accepts. */
export interface AgentCallOptions {
  signal?: AbortSignal;
  seed?: number;
  temperature?: number;
  maxTokens?: number;
  /** Extra repair attempts inside `chatJson`; default 2. */
  retries?: number;
}

/** What one agent call returns. */
export interface AgentCallResult<T> {
  value: T;
  usage: TokenUsage;
  durationMs: number;
  attempts: number;
  engineId: string;
}

/**
 * One schema-constrained agent call through `chatJson`.
 *
 * @throws InvalidModelOutputError after the bounded repair (carrying usage and time).
 */
export async function callAgent<S extends z.ZodType>(
  agent: AgentName,
  engine: ChatEngine,
  messages: ChatMessage[],
  schema: S,
  options: AgentCallOptions = {},
): Promise<AgentCallResult<z.output<S>>> {
  const result: JsonCallResult<z.output<S>> = await chatJson(
    engine,
    {
      messages,
      maxTokens: options.maxTokens ?? ANSWER_TOKENS[agent],
      temperature: options.temperature ?? AGENT_TEMPERATURE[agent],
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    },
    schema,
    options.retries !== undefined ? { retries: options.retries } : {},
  );
  return {
    value: result.value,
    usage: result.usage,
    durationMs: result.durationMs,
    attempts: result.attempts,
    engineId: engine.id,
  };
}

/** The JSON reply instruction writers append: one line, so engines without constrained decoding see the shape. */
export const RESPONSE_JSON_LINE =
  'Write only JSON: {"response": "<your reply to the user, as plain text>"}.';
