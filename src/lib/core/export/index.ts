/**
 * Exporters (METHOD.md §4): preference pairs as TRL DPO (standard, conversational), OpenAI-style
 * preference, SFT and KTO JSONL; a Hugging Face-style dataset folder as a streamed .zip; the eval
 * set. Pure TypeScript: the worker feeds pairs page by page and writes the chunks out.
 */
export { EmptyExportError } from './errors';
export { hashString, unitHash } from '../hash';
export {
  createInstanceSplit,
  createStageSplit,
  sftShareOf,
  trainingStageOf,
  DEFAULT_TEST_FRACTION,
  PAPER_SFT_FRACTION,
  PAPER_STAGE_PARTS,
  type StageParts,
  type DatasetSplit,
  type InstanceSplitOptions,
  type TrainingStage,
  type TrainingStageOptions,
} from './splits';
export {
  filterPairs,
  selectPairs,
  selectedStatuses,
  toPredicate,
  type PairFilter,
  type PairSelection,
  type PairSource,
} from './select';
export {
  flattenPrompt,
  promptLength,
  promptMessages,
  promptParts,
  unexportableReason,
  type PromptParts,
} from './conversation';
export { pairMetadata, provenanceJudges, provenanceModels, type PairMetadata } from './provenance';
export {
  createExportContext,
  FORMAT_INFO,
  PAIR_FORMATS,
  pairLines,
  pairRows,
  toKtoConversational,
  toKtoStandard,
  toOpenAiPreference,
  toSftMessages,
  toSftPromptCompletion,
  toTrlConversational,
  toTrlStandard,
  type AssistantTurn,
  type ExportContext,
  type FormatInfo,
  type FormatRows,
  type KtoConversationalRow,
  type KtoStandardRow,
  type OpenAiPreferenceRow,
  type PairFormat,
  type RowOptions,
  type SftMessagesRow,
  type SftPromptCompletionRow,
  type TrlConversationalRow,
  type TrlStandardRow,
} from './formats';
export {
  EVAL_FEATURES,
  formatFeatures,
  METADATA_FEATURE,
  type Feature,
  type ScalarDtype,
} from './features';
export {
  DatasetStatsCollector,
  DEFAULT_RESERVOIR_SIZE,
  StreamingSummary,
  type CategoryCount,
  type DatasetStats,
  type StatsOptions,
  type SummaryStats,
} from './stats';
export { evalRow, isMarkedEval, type EvalRow } from './eval-set';
export {
  DEFAULT_CHUNK_CHARS,
  encodeUtf8,
  exportEvalSet,
  exportPairs,
  type EvalExportOptions,
  type ExportPairsOptions,
  type ExportProgress,
  type StreamOptions,
} from './pipeline';
export {
  cardMetadata,
  formatTags,
  renderDatasetCard,
  sizeCategory,
  type CardFile,
  type DatasetCardInfo,
  type DatasetCardInput,
} from './dataset-card';
export {
  checkMixSettings,
  companionFormat,
  dedupText,
  DEFAULT_MIX,
  describeDedup,
  lengthRatio,
  MixSettingsError,
  planTrainingMix,
  RATIO_EDGES,
  ratioBin,
  stageOfFormat,
  TrainingMixPlanner,
  type BalanceMode,
  type DedupSettings,
  type LengthBalance,
  type MixSettings,
  type MixSummary,
  type PlanMixOptions,
  type TrainingMix,
} from './mix';
export {
  CROSS_RUN_THRESHOLD,
  LSH_BANDS,
  LSH_ROWS,
  minHashSignature,
  MINHASH_PERMUTATIONS,
  NearDuplicateIndex,
  type DuplicateResult,
} from './near-duplicates';
export { toYaml, yamlScalar, type YamlValue } from './yaml';
export {
  exportHfDataset,
  HF_PATHS,
  type HfDatasetOptions,
  type HfExportProgress,
  type RulesSerializer,
} from './hf-dataset';
export {
  changelogLines,
  exportChangelog,
  pairDelta,
  type ExportChangelog,
  type ExportContents,
  type ExportRef,
  type PairDelta,
} from './changelog';
export { pairOriginVersion, versionFit, type VersionFit } from './versions';
