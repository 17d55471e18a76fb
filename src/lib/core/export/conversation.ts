/**
 * How a pair's prompt becomes a training prompt.
 *
 * The **instance** is the system message (METHOD.md §2: "the instance is rendered as the system
 * prompt that the agents and, later, the trained model see"). So the system text is the
 * instance's `systemPrompt`; only when the instance is unknown (deleted) does the pair's own
 * leading system message stand in. Every system message inside `pair.prompt` is taken to be that
 * same rendering and dropped from the turns, so it is never written twice.
 *
 * The remaining turns are the user/assistant conversation; a usable prompt has at least one user
 * turn and ends with one (the chosen and rejected replies answer it).
 */
import type { ChatMessage } from '../llm';
import type { PreferencePair, SpecInstance } from '../records';

/** A pair's prompt, split into the instance's system text and the conversation turns. */
export interface PromptParts {
  /** The instance's system prompt (or the pair's own system message); absent when neither exists. */
  system?: string;
  /** User and assistant turns, in order, ending with a user turn. */
  turns: ChatMessage[];
}

/** Splits a pair's prompt into system text and turns (see the module comment for the rules). */
export function promptParts(pair: PreferencePair, instance?: SpecInstance): PromptParts {
  const turns: ChatMessage[] = [];
  let ownSystem: string | undefined;
  for (const message of pair.prompt) {
    if (message.role === 'system') ownSystem ??= message.content;
    else turns.push({ role: message.role, content: message.content });
  }
  const system = instance ? instance.systemPrompt : ownSystem;
  return system !== undefined && system.trim() !== '' ? { system, turns } : { turns };
}

/**
 * Why a pair cannot become a training row, or `undefined` when it can: it needs a user turn, its
 * prompt must end with one, and both replies must be non-blank.
 */
export function unexportableReason(pair: PreferencePair): string | undefined {
  let last: ChatMessage | undefined;
  for (const message of pair.prompt) if (message.role !== 'system') last = message;
  if (!last) return 'its prompt has no user turn';
  if (last.role !== 'user') return 'its prompt does not end with a user turn';
  if (!pair.chosen.trim()) return 'its chosen reply is empty';
  if (!pair.rejected.trim()) return 'its rejected reply is empty';
  return undefined;
}

/** The prompt as chat messages: the system message first (unless omitted), then the turns. */
export function promptMessages(parts: PromptParts, includeSystem: boolean): ChatMessage[] {
  const messages = parts.turns.map((t) => ({ role: t.role, content: t.content }));
  return includeSystem && parts.system !== undefined
    ? [{ role: 'system', content: parts.system }, ...messages]
    : messages;
}

/** Role labels of a flattened transcript. */
const SPEAKER: Record<ChatMessage['role'], string> = {
  system: 'System',
  user: 'User',
  assistant: 'Assistant',
};

/**
 * The prompt as one string, for the *standard* (non-conversational) formats.
 *
 * A single user turn (and no system text requested) is written as its bare text — the TRL
 * standard shape `"prompt": "<the user's words>"`. Anything more is flattened into a transcript:
 * `"System: …\n\nUser: …\n\nAssistant: …\n\nUser: …"`, one block per message, labels in English,
 * blocks separated by a blank line, no trailing `Assistant:` cue (the completion follows the last
 * user block). Chat models should be trained on the conversational formats instead, where the
 * tokenizer's own chat template does this job.
 */
export function flattenPrompt(parts: PromptParts, includeSystem: boolean): string {
  const messages = promptMessages(parts, includeSystem);
  const only = messages[0];
  if (messages.length === 1 && only?.role === 'user') return only.content;
  return messages.map((m) => `${SPEAKER[m.role]}: ${m.content}`).join('\n\n');
}

/** Characters of the conversation turns (system text excluded: it is constant per instance). */
export function promptLength(pair: PreferencePair): number {
  let n = 0;
  for (const message of pair.prompt) if (message.role !== 'system') n += message.content.length;
  return n;
}
