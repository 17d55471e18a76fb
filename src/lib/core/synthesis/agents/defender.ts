/**
 * The defender (METHOD.md §3): answers the conversation with the instance as its system prompt,
 * trying to help while obeying. Its answer is the candidate chosen or rejected response.
 *
 * Method choice: the defender sees exactly what the trained model will see (instance prompt +
 * conversation); the only addition is the marker and the one-line JSON instruction after the
 * instance, because every role answers through a schema (ARCHITECTURE.md). No few-shot examples:
 * the defender must behave as the deployed model would.
 */
import type { ChatEngine, ChatMessage } from '../../llm';
import { layoutAgentMessages } from './prompt-layout';
import {
  agentMarker,
  callAgent,
  capText,
  CONVERSATION_TOKENS,
  fitPrompt,
  RESPONSE_JSON_LINE,
  responseSchema,
  type AgentCallOptions,
  type AgentCallResult,
  type Conversation,
  type PromptSizing,
  type ResponseOutput,
} from './common';

/** The defender's reply schema (`{response}`). */
export const defenderSchema = responseSchema;
/** A defender reply. */
export type DefenderOutput = ResponseOutput;

/** What the defender sees: the instance and the conversation. */
export interface DefenderInput extends PromptSizing {
  instancePrompt: string;
  conversation: Conversation;
}

/** The defender's messages: instance system prompt, then the conversation turns. */
export function buildDefenderMessages(input: DefenderInput): ChatMessage[] {
  return fitPrompt(
    'defender',
    () =>
      layoutAgentMessages({
        instancePrompt: input.instancePrompt,
        role: `${agentMarker('defender')} Reply to the user's last message. ${RESPONSE_JSON_LINE}`,
        varying: capTurns(input.conversation),
      }),
    input,
  );
}

/** The conversation as chat turns, each capped so the whole stays within the conversation budget. */
export function capTurns(conversation: Conversation): ChatMessage[] {
  const turns = conversation.filter((m) => m.role !== 'system');
  const each = Math.floor(CONVERSATION_TOKENS / Math.max(1, turns.length));
  return turns.map((m) => ({ role: m.role, content: capText(m.content, each) }));
}

/** Runs the defender. @throws InvalidModelOutputError after the bounded repair. */
export function callDefender(
  engine: ChatEngine,
  input: DefenderInput,
  options: AgentCallOptions = {},
): Promise<AgentCallResult<DefenderOutput>> {
  return callAgent('defender', engine, buildDefenderMessages(input), defenderSchema, options);
}
