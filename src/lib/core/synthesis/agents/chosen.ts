/**
 * Chosen-response generation (METHOD.md §3): the defender again, with the instance given
 * explicitly plus guidance from the judges, writes the response a pair prefers.
 *
 * Method choice: "the instance given explicitly" = the instance prompt plus a note naming the
 * rule at stake with its full text, why the earlier draft failed (the judge's quoted evidence, a
 * needless refusal, or the quality judge's rationale) and the spec's GOOD replies for that rule
 * when they fit. The note asks the model not to mention it, so the chosen reply reads like an
 * ordinary answer to the same conversation.
 */
import type { ChatEngine, ChatMessage } from '../../llm';
import type { SpecExample } from '../../records';
import { capTurns } from './defender';
import { layoutAgentMessages } from './prompt-layout';
import {
  agentMarker,
  callAgent,
  capText,
  fitPrompt,
  renderExamples,
  renderTarget,
  RESPONSE_JSON_LINE,
  responseSchema,
  type AgentCallOptions,
  type AgentCallResult,
  type Conversation,
  type PromptSizing,
  type ResponseOutput,
  type TargetRule,
} from './common';

/** The chosen writer's reply schema (`{response}`). */
export const chosenSchema = responseSchema;
/** A chosen reply. */
export type ChosenOutput = ResponseOutput;

/** Why a better reply is needed. */
export type ChosenIssue =
  | { kind: 'violated'; evidence: string; rationale: string }
  | { kind: 'over-refusal'; rationale: string }
  | { kind: 'low-quality'; rationale: string };

/** What the chosen writer is told. */
export interface ChosenInput extends PromptSizing {
  instancePrompt: string;
  target: TargetRule;
  conversation: Conversation;
  issue: ChosenIssue;
  examples?: readonly SpecExample[];
}

function guidance(input: ChosenInput): string {
  const label = input.target.label;
  switch (input.issue.kind) {
    case 'violated':
      return `An earlier draft broke ${label}${input.issue.evidence ? `: "${capText(input.issue.evidence, 60)}"` : ''}. ${capText(input.issue.rationale, 60)} Your reply must follow ${label} and every other rule, and still help with everything the rules allow.`;
    case 'over-refusal':
      return `An earlier draft refused or held back on a request the rules allow. ${capText(input.issue.rationale, 60)} Help fully and concretely, following every rule.`;
    case 'low-quality':
      return `An earlier draft was not helpful or clear enough: ${capText(input.issue.rationale, 80)} Be specific, useful and well written, following every rule.`;
  }
}

/** The chosen writer's messages: instance + guidance as system prompt, then the conversation. */
export function buildChosenMessages(input: ChosenInput): ChatMessage[] {
  return fitPrompt(
    'chosen',
    (withExamples) => {
      const examples = withExamples ? renderExamples(input.examples ?? [], 'good') : '';
      const systemTail = [
        'Take special care with this rule:',
        renderTarget(input.target),
        guidance(input),
        ...(examples ? ['Good replies from the specification’s examples:', examples] : []),
        'Do not mention these notes or rule numbers.',
        RESPONSE_JSON_LINE,
      ].join('\n');
      return layoutAgentMessages({
        instancePrompt: input.instancePrompt,
        role: `${agentMarker('chosen')} Reply to the user's last message.`,
        systemTail,
        varying: capTurns(input.conversation),
      });
    },
    input,
  );
}

/** Runs the chosen writer on the defender's engine. @throws InvalidModelOutputError after repair. */
export function callChosen(
  engine: ChatEngine,
  input: ChosenInput,
  options: AgentCallOptions = {},
): Promise<AgentCallResult<ChosenOutput>> {
  return callAgent('chosen', engine, buildChosenMessages(input), chosenSchema, options);
}
