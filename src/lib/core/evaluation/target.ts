/**
 * The evaluation target (METHOD.md §5): the model under test answers a held-out query with the
 * instance as its system prompt.
 *
 * Method choice: the target sees exactly what the defender sees during synthesis — the instance
 * prompt, then the conversation — with the same one-line JSON reply instruction, because every
 * role answers through a schema (ARCHITECTURE.md) and small models behind constrained decoders
 * need to see the shape. Only the marker differs (`[agent: target]`), so request logs and test
 * doubles can tell an evaluation answer from a synthesis one. Temperature 0 and a per-item seed
 * make a re-run of the same target give the same answers where the engine honours them.
 */
import type { ChatEngine, ChatMessage } from '../llm';
import {
  callAgent,
  fitPrompt,
  RESPONSE_JSON_LINE,
  responseSchema,
  type AgentCallOptions,
  type AgentCallResult,
  type Conversation,
  type PromptSizing,
  type ResponseOutput,
} from '../synthesis/agents/common';
import { capTurns } from '../synthesis/agents/defender';

/** The tag in the target's system message (not an agent of synthesis). */
export const TARGET_MARKER = '[agent: target]';

export interface TargetInput extends PromptSizing {
  instancePrompt: string;
  conversation: Conversation;
}

/** The target's messages: instance system prompt, then the conversation turns. */
export function buildTargetMessages(input: TargetInput): ChatMessage[] {
  // Budgeted like the defender: same window, same answer reserve.
  return fitPrompt(
    'defender',
    () => [
      {
        role: 'system',
        content: `${input.instancePrompt}\n\n${TARGET_MARKER} Reply to the user's last message. ${RESPONSE_JSON_LINE}`,
      },
      ...capTurns(input.conversation),
    ],
    input,
  );
}

/** Runs the target once. @throws InvalidModelOutputError after the bounded repair. */
export function callTarget(
  engine: ChatEngine,
  input: TargetInput,
  options: AgentCallOptions = {},
): Promise<AgentCallResult<ResponseOutput>> {
  return callAgent('defender', engine, buildTargetMessages(input), responseSchema, {
    temperature: 0,
    ...options,
  });
}
