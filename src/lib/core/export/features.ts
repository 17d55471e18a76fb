/**
 * Column types of each format in the Hugging Face `datasets` YAML convention (the
 * `dataset_info.features` block of a dataset card): `dtype` for a scalar, `sequence: string` for a
 * list of strings, `list:` for a list of structs (chat messages), `struct:` for a nested object.
 * Fields are listed in the order they appear in each JSONL row.
 */
import type { PairFormat } from './formats';

/** A scalar Arrow dtype as `datasets` names it. */
export type ScalarDtype = 'string' | 'bool' | 'int64' | 'float64';

/** One column (or nested field) and its type. */
export type Feature = { name: string } & (
  { dtype: ScalarDtype } | { sequence: ScalarDtype } | { list: Feature[] } | { struct: Feature[] }
);

const string = (name: string): Feature => ({ name, dtype: 'string' });
const messages = (name: string): Feature => ({
  name,
  list: [string('role'), string('content')],
});

/** The `metadata` column (see `PairMetadata`). */
export const METADATA_FEATURE: Feature = {
  name: 'metadata',
  struct: [
    string('pair_id'),
    string('run_id'),
    string('spec_version_id'),
    string('dataset_spec_version_id'),
    string('instance_id'),
    { name: 'rule_ids', sequence: 'string' },
    string('case_type'),
    string('status'),
    { name: 'created_at', dtype: 'int64' },
    { name: 'models', list: [string('role'), string('model')] },
    string('judges'),
    {
      name: 'origin',
      struct: [
        string('rejected'),
        { name: 'rejected_round', dtype: 'int64' },
        string('chosen'),
        { name: 'rounds', dtype: 'int64' },
      ],
    },
    { name: 'defender_is_target', dtype: 'bool' },
  ],
};

const FEATURES: Record<PairFormat, Feature[]> = {
  'trl-standard': [string('prompt'), string('chosen'), string('rejected')],
  'trl-conversational': [messages('prompt'), messages('chosen'), messages('rejected')],
  'openai-preference': [
    { name: 'input', struct: [messages('messages')] },
    messages('preferred_output'),
    messages('non_preferred_output'),
  ],
  'sft-messages': [messages('messages')],
  'sft-prompt-completion': [string('prompt'), string('completion')],
  'kto-standard': [string('prompt'), string('completion'), { name: 'label', dtype: 'bool' }],
  'kto-conversational': [
    messages('prompt'),
    messages('completion'),
    { name: 'label', dtype: 'bool' },
  ],
};

/** The columns of `format`'s rows, with `metadata` last when provenance is on. */
export function formatFeatures(
  format: PairFormat,
  options: { provenance?: boolean } = {},
): Feature[] {
  return options.provenance ? [...FEATURES[format], METADATA_FEATURE] : [...FEATURES[format]];
}

/** The columns of the eval set (see `EvalRow`). */
export const EVAL_FEATURES: Feature[] = [
  string('instance_id'),
  string('system'),
  messages('messages'),
  { name: 'rule_ids', sequence: 'string' },
  string('case_type'),
];
