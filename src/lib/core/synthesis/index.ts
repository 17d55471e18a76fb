/**
 * Multi-agent adversarial synthesis (METHOD.md §3): scenario controls and task planning, the
 * agents, the experience pool, deduplication, the resumable per-task loop and run estimates.
 */
export * from './controls';
export * from './agents';
export * from './experience';
export * from './near-duplicate';
export * from './pair-checks';
export * from './examples';
export * from './loop';
export * from './estimate';
export * from './yield-calibration';
export * from './wave';
export * from './role-rotation';
