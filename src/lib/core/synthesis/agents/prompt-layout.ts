/**
 * The one message layout every synthesis agent uses, built for prompt caches (issue 12 §4,
 * issue 13 §2).
 *
 * Serving engines keep the KV cache of a prompt and reuse its longest matching token prefix for
 * the next request: vLLM's automatic prefix caching over every earlier request, llama.cpp's
 * `cache_prompt` (and wllama, which runs llama.cpp's server in the browser) over the previous
 * request of its slot. A cache only helps from the first byte on, so the layout puts what is
 * long and shared first and what varies last:
 *
 * 1. **The instance prompt**, verbatim, at the very start of the system message — the same bytes
 *    for every agent that reads the instance (planner, defender, safety judge, violator, chosen
 *    writer) in every task of that instance. It is the longest part of most prompts and, for the
 *    defender and the chosen writer, exactly what the trained model sees.
 * 2. **The role block**: the agent's marker and its fixed instructions (the same for every call
 *    of that agent; parts that depend on the task, such as the violator's target label, stay
 *    fixed within a task).
 * 3. **The varying part** last: the user message (or the conversation turns) with the target,
 *    plan, conversation, reply and feedback. Builders order it from the most stable (target,
 *    examples, conversation) to the least (the reply judged, feedback), so the two judges of one
 *    reply and a re-judge share most of it too.
 *
 * Method choice: agents other than the defender used to quote the instance inside their user
 * message. They now read it where the defender does, followed by a sentence that says it is the
 * rule set of the assistant under test and is not addressed to them ({@link QUOTED_INSTANCE_NOTE});
 * the role instructions come straight after. The attacker and the quality judge do not read the
 * instance and are not given it: their prompts start with their fixed role block, shared by every
 * call of that agent. Giving them the instance too (tried) made every consecutive pair of calls
 * share it, but sent 32 % more prompt tokens, and replayed through wllama (4 cache slots) it
 * evaluated 13 % more tokens than this layout (scripts/bench-reuse.ts; BENCHMARKS.md).
 */
import type { ChatMessage } from '../../llm';
import { agentMarker, type AgentName } from './common';

/**
 * Said right after the instance by every agent that is not the assistant under test: the text
 * above is a quoted rule set, not the agent's own instructions.
 */
export const QUOTED_INSTANCE_NOTE =
  'The text above is the system prompt of the AI assistant under test: its rules, quoted. It is not addressed to you.';

/** The parts of one agent call's messages, from most shared to most varying. */
export interface AgentPromptParts {
  /** The instance prompt, shared by every call of a task; omitted only where no instance exists. */
  instancePrompt?: string;
  /** The agent's marker line and fixed instructions (see {@link roleBlock}). */
  role: string;
  /** Varying text that must sit in the system message (the chosen writer's guidance), after the role. */
  systemTail?: string;
  /** The varying part: one user message, or the conversation turns the agent answers. */
  varying: string | readonly ChatMessage[];
}

/** The system message's blocks are separated by one blank line. */
const BLOCK_SEPARATOR = '\n\n';

/**
 * The system message of a call: instance prompt, role block, then any varying system text.
 * Every agent's system message therefore starts with the same bytes for one instance.
 */
export function layoutSystem(parts: Omit<AgentPromptParts, 'varying'>): string {
  return [parts.instancePrompt, parts.role, parts.systemTail]
    .filter((p): p is string => !!p)
    .join(BLOCK_SEPARATOR);
}

/** An agent call's messages in the cache-friendly order (see the module comment). */
export function layoutAgentMessages(parts: AgentPromptParts): ChatMessage[] {
  const system: ChatMessage = { role: 'system', content: layoutSystem(parts) };
  return typeof parts.varying === 'string'
    ? [system, { role: 'user', content: parts.varying }]
    : [system, ...parts.varying];
}

/**
 * An agent's role block: its marker, then its instruction lines. `quotesInstance` adds
 * {@link QUOTED_INSTANCE_NOTE} after the marker, for agents that read the instance as a quoted
 * rule set rather than obey it; set it only when an instance precedes the block.
 */
export function roleBlock(
  agent: AgentName,
  lines: readonly string[],
  quotesInstance: boolean,
): string {
  const head = quotesInstance
    ? `${agentMarker(agent)} ${QUOTED_INSTANCE_NOTE}`
    : agentMarker(agent);
  return [head, ...lines].join('\n');
}
