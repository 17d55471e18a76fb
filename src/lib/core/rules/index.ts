/**
 * Structured rule annotation (METHOD.md §1), pure core: detect normative sentences, chunk a spec
 * for a model's context window, annotate chunks through schema-constrained JSON, locate quotes,
 * merge duplicates, cluster families, measure coverage, and read/write the rules file.
 *
 * Typical flow (the worker composes it with an engine and the database):
 * ```ts
 * const normative = detectNormativeSentences(text, 0, { excludeSpans: metaSpans });
 * const chunks = chunkSections(sections, text, {
 *   contextWindow: engine.contextWindow,
 *   promptOverheadTokens: annotationPromptOverhead(),
 *   answerTokens: DEFAULT_ANSWER_TOKENS,
 * });
 * for (const chunk of chunks) {            // task key = chunk.key: resumable
 *   const { rules } = await annotateChunk(engine, chunk, { specVersionId, normative });
 * }
 * const { rules: merged } = dedupeRules(all);
 * const families = clusterFamilies(merged);
 * const coverage = measureCoverage(normative, merged, sections);
 * ```
 */
export * from './annotate';
export * from './chunking';
export * from './coverage';
export * from './dedupe';
export * from './locate-quote';
export * from './manual-source';
export * from './normative';
export * from './prompt';
export * from './reannotate';
export * from './rules-file';
export * from './schema';
