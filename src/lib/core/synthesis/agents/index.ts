/** The synthesis agents (METHOD.md §3): one module per role, each with schema, prompt and call. */
export * from './common';
export * from './planner';
export * from './attacker';
export * from './defender';
export * from './chosen';
export * from './safety-judge';
export * from './quality-judge';
export * from './violator';
export * from './judge-rejudge';
export * from './prompt-layout';
