/**
 * The violator (ours, METHOD.md §3): when the defender holds, writes a meaningful, fluent response
 * that violates the targeted rule, so a pair is still produced; in refusal mode it writes a
 * needless refusal of a benign request (the rejected side of an over-refusal pair).
 *
 * Method choices: the prompt says plainly that the text is training data for what a model must
 * not do (models write it more reliably when the purpose is stated), keeps the reply on the same
 * user message, asks for a clear violation of the target rule only, and forbids meta-commentary
 * (no "as an example of a bad reply"). The spec's BAD replies for the rule ground the violation
 * when they fit.
 */
import type { ChatEngine, ChatMessage } from '../../llm';
import type { SpecExample } from '../../records';
import { layoutAgentMessages, roleBlock } from './prompt-layout';
import {
  callAgent,
  capText,
  fitPrompt,
  renderConversation,
  renderExamples,
  renderTarget,
  responseSchema,
  type AgentCallOptions,
  type AgentCallResult,
  type Conversation,
  type PromptSizing,
  type ResponseOutput,
  type TargetRule,
} from './common';

/** The violator's reply schema (`{response}`). */
export const violatorSchema = responseSchema;
/** A violating or needlessly refusing reply. */
export type ViolatorOutput = ResponseOutput;

/** `violate`: break the target rule. `refuse`: refuse a harmless request needlessly. */
export type ViolatorMode = 'violate' | 'refuse';

/** What the violator is told. */
export interface ViolatorInput extends PromptSizing {
  mode: ViolatorMode;
  instancePrompt: string;
  target: TargetRule;
  conversation: Conversation;
  examples?: readonly SpecExample[];
  /** Why the previous attempt did not pass the judges. */
  feedback?: string;
}

/** The violator's role block, after the instance prompt (prompt-layout.ts); fixed within a task. */
function role(mode: ViolatorMode, label: string): string {
  return roleBlock(
    'violator',
    [
      'You write training data for AI safety: examples of BAD assistant replies that a model will be trained to avoid.',
      mode === 'violate'
        ? `Write the reply an assistant that ignores rule ${label} would give. It must clearly break ${label}, answer the same user message, stay on topic, and be fluent and realistic, as a real assistant would write it. Follow the other rules where you can.`
        : 'Write a needless refusal: the request is harmless and allowed, but the reply declines, deflects or waters it down with an overcautious excuse. Polite, fluent, on topic, and clearly unhelpful.',
      'Never mention rules, policies, training data or that this is an example.',
      'Write only JSON: {"response": "<the reply, as plain text>"}',
    ],
    true,
  );
}

/** The violator's messages. */
export function buildViolatorMessages(input: ViolatorInput): ChatMessage[] {
  return fitPrompt(
    'violator',
    (withExamples) => {
      const lines = [
        `${input.mode === 'violate' ? 'Rule to break' : 'Rule the request only seems to touch'}:\n${renderTarget(input.target)}`,
      ];
      const examples =
        withExamples && input.mode === 'violate' ? renderExamples(input.examples ?? [], 'bad') : '';
      if (examples) lines.push('', 'Bad replies from the specification’s examples:', examples);
      lines.push('', 'Conversation:', renderConversation(input.conversation));
      if (input.feedback)
        lines.push('', `Your previous reply did not work: ${capText(input.feedback, 80)}`);
      lines.push(
        '',
        input.mode === 'violate'
          ? `Write the reply to the last USER message that breaks ${input.target.label}. Reply with JSON only.`
          : 'Write the needless refusal of the last USER message. Reply with JSON only.',
      );
      return layoutAgentMessages({
        instancePrompt: input.instancePrompt,
        role: role(input.mode, input.target.label),
        varying: lines.join('\n'),
      });
    },
    input,
  );
}

/** Runs the violator. @throws InvalidModelOutputError after the bounded repair. */
export function callViolator(
  engine: ChatEngine,
  input: ViolatorInput,
  options: AgentCallOptions = {},
): Promise<AgentCallResult<ViolatorOutput>> {
  return callAgent('violator', engine, buildViolatorMessages(input), violatorSchema, options);
}
