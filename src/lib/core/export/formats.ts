/**
 * The export formats: each a pure function from one pair (plus the instance/rules lookup) to its
 * JSONL row(s). Key order in every row is fixed (the documented shape's order, `metadata` last),
 * so the same pair always serialises to the same bytes.
 */
import type { ChatMessage } from '../llm';
import type { PreferencePair, Rule, SpecInstance } from '../records';
import { flattenPrompt, promptMessages, promptParts, type PromptParts } from './conversation';
import { pairMetadata, type PairMetadata } from './provenance';

/** Every pair export format. */
export const PAIR_FORMATS = [
  'trl-standard',
  'trl-conversational',
  'openai-preference',
  'sft-messages',
  'sft-prompt-completion',
  'kto-standard',
  'kto-conversational',
] as const;
export type PairFormat = (typeof PAIR_FORMATS)[number];

/** What the exporters look up by id. Instances and rules are few (tens, hundreds): keep them in maps. */
export interface ExportContext {
  instances: ReadonlyMap<string, SpecInstance>;
  rules: ReadonlyMap<string, Rule>;
  /** The spec version the dataset reflects (issue 11 §6), stated in each row's metadata. */
  specVersionId?: string;
}

/** Builds an {@link ExportContext} from the project's instances and rules. */
export function createExportContext(
  instances: Iterable<SpecInstance>,
  rules: Iterable<Rule> = [],
  specVersionId?: string,
): ExportContext {
  return {
    instances: new Map([...instances].map((i) => [i.id, i])),
    rules: new Map([...rules].map((r) => [r.id, r])),
    ...(specVersionId !== undefined ? { specVersionId } : {}),
  };
}

/** Per-row options shared by every format. */
export interface RowOptions {
  /**
   * Whether the instance's system prompt is part of the prompt. Default: `true` for the
   * message-based formats, `false` for the string formats (whose prompt is the user's text; with
   * `true` it becomes a `System:/User:` transcript, see `flattenPrompt`).
   */
  includeSystem?: boolean;
  /** Adds the `metadata` column (pair id, spec version, instance, rules, case type, judges, models). Default `false`. */
  provenance?: boolean;
}

/** A one-message completion list, as TRL's conversational and OpenAI's formats expect. */
export type AssistantTurn = [{ role: 'assistant'; content: string }];

/** TRL DPO, standard preference: `{"prompt": str, "chosen": str, "rejected": str}`. */
export interface TrlStandardRow {
  prompt: string;
  chosen: string;
  rejected: string;
  metadata?: PairMetadata;
}

/**
 * TRL DPO, conversational preference: `{"prompt": [messages], "chosen": [{"role": "assistant", …}],
 * "rejected": [{"role": "assistant", …}]}`.
 */
export interface TrlConversationalRow {
  prompt: ChatMessage[];
  chosen: AssistantTurn;
  rejected: AssistantTurn;
  metadata?: PairMetadata;
}

/**
 * OpenAI preference fine-tuning (DPO): `{"input": {"messages": [...]}, "preferred_output":
 * [{"role": "assistant", …}], "non_preferred_output": [{"role": "assistant", …}]}`.
 */
export interface OpenAiPreferenceRow {
  input: { messages: ChatMessage[] };
  preferred_output: AssistantTurn;
  non_preferred_output: AssistantTurn;
  metadata?: PairMetadata;
}

/** SFT, conversational language modelling: `{"messages": [system?, user…, assistant(chosen)]}`. */
export interface SftMessagesRow {
  messages: ChatMessage[];
  metadata?: PairMetadata;
}

/** SFT, standard prompt-completion: `{"prompt": str, "completion": str}` (completion = chosen). */
export interface SftPromptCompletionRow {
  prompt: string;
  completion: string;
  metadata?: PairMetadata;
}

/** KTO, standard unpaired preference: `{"prompt": str, "completion": str, "label": bool}`. */
export interface KtoStandardRow {
  prompt: string;
  completion: string;
  label: boolean;
  metadata?: PairMetadata;
}

/** KTO, conversational unpaired preference: `{"prompt": [messages], "completion": [assistant], "label": bool}`. */
export interface KtoConversationalRow {
  prompt: ChatMessage[];
  completion: AssistantTurn;
  label: boolean;
  metadata?: PairMetadata;
}

/** The row type of each format. */
export interface FormatRows {
  'trl-standard': TrlStandardRow;
  'trl-conversational': TrlConversationalRow;
  'openai-preference': OpenAiPreferenceRow;
  'sft-messages': SftMessagesRow;
  'sft-prompt-completion': SftPromptCompletionRow;
  'kto-standard': KtoStandardRow;
  'kto-conversational': KtoConversationalRow;
}

/** What the UI shows about a format, and its defaults. */
export interface FormatInfo {
  label: string;
  /** One sentence: which trainer reads it. */
  description: string;
  /** Prompt as chat messages (true) or one string (false); also the default of `includeSystem`. */
  conversational: boolean;
  /** JSONL rows written per pair. */
  rowsPerPair: 1 | 2;
  /** Whether the format carries the rejected reply (SFT does not). */
  usesRejected: boolean;
  /** A file name stem for downloads. */
  fileStem: string;
}

export const FORMAT_INFO: Record<PairFormat, FormatInfo> = {
  'trl-standard': {
    label: 'TRL DPO (standard)',
    description: 'prompt / chosen / rejected strings for TRL DPOTrainer.',
    conversational: false,
    rowsPerPair: 1,
    usesRejected: true,
    fileStem: 'dpo-standard',
  },
  'trl-conversational': {
    label: 'TRL DPO (conversational)',
    description:
      'prompt / chosen / rejected as chat messages for TRL DPOTrainer (chat template applied by TRL).',
    conversational: true,
    rowsPerPair: 1,
    usesRejected: true,
    fileStem: 'dpo-conversational',
  },
  'openai-preference': {
    label: 'OpenAI preference (DPO)',
    description:
      'input.messages / preferred_output / non_preferred_output for OpenAI-style DPO fine-tuning.',
    conversational: true,
    rowsPerPair: 1,
    usesRejected: true,
    fileStem: 'openai-preference',
  },
  'sft-messages': {
    label: 'SFT (messages)',
    description:
      'messages ending with the chosen reply, for TRL SFTTrainer and chat fine-tuning APIs.',
    conversational: true,
    rowsPerPair: 1,
    usesRejected: false,
    fileStem: 'sft-messages',
  },
  'sft-prompt-completion': {
    label: 'SFT (prompt / completion)',
    description: 'prompt / completion strings (completion = chosen reply) for TRL SFTTrainer.',
    conversational: false,
    rowsPerPair: 1,
    usesRejected: false,
    fileStem: 'sft-prompt-completion',
  },
  'kto-standard': {
    label: 'KTO (standard)',
    description:
      'Two unpaired rows per pair: prompt / completion / label (chosen true, rejected false) for TRL KTOTrainer.',
    conversational: false,
    rowsPerPair: 2,
    usesRejected: true,
    fileStem: 'kto-standard',
  },
  'kto-conversational': {
    label: 'KTO (conversational)',
    description:
      'Two unpaired rows per pair with chat-message prompt and completion, for TRL KTOTrainer.',
    conversational: true,
    rowsPerPair: 2,
    usesRejected: true,
    fileStem: 'kto-conversational',
  },
};

/** A pair prepared once for every format builder. */
interface Prepared {
  parts: PromptParts;
  includeSystem: boolean;
  metadata?: PairMetadata;
}

function prepare(
  pair: PreferencePair,
  format: PairFormat,
  context: ExportContext,
  options: RowOptions,
): Prepared {
  const instance = context.instances.get(pair.instanceId);
  return {
    parts: promptParts(pair, instance),
    includeSystem: options.includeSystem ?? FORMAT_INFO[format].conversational,
    ...(options.provenance
      ? { metadata: pairMetadata(pair, instance, context.specVersionId) }
      : {}),
  };
}

function assistant(content: string): AssistantTurn {
  return [{ role: 'assistant', content }];
}

function withMetadata<T extends object>(row: T, p: Prepared): T & { metadata?: PairMetadata } {
  return p.metadata ? { ...row, metadata: p.metadata } : row;
}

/**
 * TRL `DPOTrainer`, standard preference type (TRL docs, "Dataset formats and types"):
 * `{"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}`. The prompt is the
 * user's text; multi-turn prompts (or `includeSystem: true`) are flattened as a transcript, see
 * `flattenPrompt`. Replies are written as generated (TRL concatenates prompt and reply itself).
 */
export function toTrlStandard(
  pair: PreferencePair,
  context: ExportContext,
  options: RowOptions = {},
): TrlStandardRow {
  const p = prepare(pair, 'trl-standard', context, options);
  return withMetadata(
    {
      prompt: flattenPrompt(p.parts, p.includeSystem),
      chosen: pair.chosen,
      rejected: pair.rejected,
    },
    p,
  );
}

/**
 * TRL `DPOTrainer`, conversational preference type:
 * `{"prompt": [{"role": "system", "content": <instance>}, {"role": "user", …}, …],
 * "chosen": [{"role": "assistant", "content": …}], "rejected": [{"role": "assistant", "content": …}]}`.
 * The instance is the system message unless `includeSystem: false`.
 */
export function toTrlConversational(
  pair: PreferencePair,
  context: ExportContext,
  options: RowOptions = {},
): TrlConversationalRow {
  const p = prepare(pair, 'trl-conversational', context, options);
  return withMetadata(
    {
      prompt: promptMessages(p.parts, p.includeSystem),
      chosen: assistant(pair.chosen),
      rejected: assistant(pair.rejected),
    },
    p,
  );
}

/**
 * OpenAI preference fine-tuning (`method: dpo`), one example per line:
 * `{"input": {"messages": [...]}, "preferred_output": [{"role": "assistant", "content": …}],
 * "non_preferred_output": [{"role": "assistant", "content": …}]}`. `tools` and
 * `parallel_tool_calls` are optional there and omitted here. Turn provenance off for files you
 * upload to a hosted fine-tuning API: its validator may reject the extra `metadata` key.
 */
export function toOpenAiPreference(
  pair: PreferencePair,
  context: ExportContext,
  options: RowOptions = {},
): OpenAiPreferenceRow {
  const p = prepare(pair, 'openai-preference', context, options);
  return withMetadata(
    {
      input: { messages: promptMessages(p.parts, p.includeSystem) },
      preferred_output: assistant(pair.chosen),
      non_preferred_output: assistant(pair.rejected),
    },
    p,
  );
}

/**
 * SFT, TRL conversational language-modelling type (also the OpenAI chat fine-tuning line):
 * `{"messages": [{"role": "system", …}?, {"role": "user", …}, …, {"role": "assistant", "content": <chosen>}]}`.
 */
export function toSftMessages(
  pair: PreferencePair,
  context: ExportContext,
  options: RowOptions = {},
): SftMessagesRow {
  const p = prepare(pair, 'sft-messages', context, options);
  return withMetadata(
    {
      messages: [
        ...promptMessages(p.parts, p.includeSystem),
        { role: 'assistant', content: pair.chosen },
      ],
    },
    p,
  );
}

/**
 * SFT, TRL standard prompt-completion type: `{"prompt": "The sky is", "completion": " blue."}`,
 * the completion being the chosen reply; the prompt as in {@link toTrlStandard}.
 */
export function toSftPromptCompletion(
  pair: PreferencePair,
  context: ExportContext,
  options: RowOptions = {},
): SftPromptCompletionRow {
  const p = prepare(pair, 'sft-prompt-completion', context, options);
  return withMetadata(
    { prompt: flattenPrompt(p.parts, p.includeSystem), completion: pair.chosen },
    p,
  );
}

/**
 * TRL `KTOTrainer`, standard unpaired preference type:
 * `{"prompt": "The sky is", "completion": " blue.", "label": true}`. Each pair gives two rows:
 * the chosen reply with `label: true`, then the rejected reply with `label: false`.
 */
export function toKtoStandard(
  pair: PreferencePair,
  context: ExportContext,
  options: RowOptions = {},
): [KtoStandardRow, KtoStandardRow] {
  const p = prepare(pair, 'kto-standard', context, options);
  const prompt = flattenPrompt(p.parts, p.includeSystem);
  return [
    withMetadata({ prompt, completion: pair.chosen, label: true }, p),
    withMetadata({ prompt, completion: pair.rejected, label: false }, p),
  ];
}

/**
 * TRL `KTOTrainer`, conversational unpaired preference type:
 * `{"prompt": [messages], "completion": [{"role": "assistant", "content": …}], "label": true}`;
 * two rows per pair as in {@link toKtoStandard}.
 */
export function toKtoConversational(
  pair: PreferencePair,
  context: ExportContext,
  options: RowOptions = {},
): [KtoConversationalRow, KtoConversationalRow] {
  const p = prepare(pair, 'kto-conversational', context, options);
  const prompt = promptMessages(p.parts, p.includeSystem);
  return [
    withMetadata({ prompt, completion: assistant(pair.chosen), label: true }, p),
    withMetadata({ prompt, completion: assistant(pair.rejected), label: false }, p),
  ];
}

/** The rows of one pair in `format` (one row, or two for KTO). */
export function pairRows<F extends PairFormat>(
  pair: PreferencePair,
  format: F,
  context: ExportContext,
  options?: RowOptions,
): FormatRows[F][];
export function pairRows(
  pair: PreferencePair,
  format: PairFormat,
  context: ExportContext,
  options: RowOptions = {},
): FormatRows[PairFormat][] {
  switch (format) {
    case 'trl-standard':
      return [toTrlStandard(pair, context, options)];
    case 'trl-conversational':
      return [toTrlConversational(pair, context, options)];
    case 'openai-preference':
      return [toOpenAiPreference(pair, context, options)];
    case 'sft-messages':
      return [toSftMessages(pair, context, options)];
    case 'sft-prompt-completion':
      return [toSftPromptCompletion(pair, context, options)];
    case 'kto-standard':
      return toKtoStandard(pair, context, options);
    case 'kto-conversational':
      return toKtoConversational(pair, context, options);
  }
}

/** The JSONL lines (without newline) of one pair in `format`. */
export function pairLines(
  pair: PreferencePair,
  format: PairFormat,
  context: ExportContext,
  options: RowOptions = {},
): string[] {
  return pairRows(pair, format, context, options).map((row) => JSON.stringify(row));
}
