/**
 * Typed stored records: one zod schema per shape stored as `unknown` (pair provenance, run
 * configs, task states, evaluation results), each with a version, and one reader per shape.
 */
export * from './read';
export * from './pair-provenance';
export * from './evaluation';
export * from './runs';
export * from './export-record';
