/** Evaluation (METHOD.md §5): held-out or imported items, the target, RCS, calibration, dashboard. */
export * from './items';
export * from './eval-set-file';
export * from './prompt-labels';
export * from './target';
export * from './rcs';
export * from './calibration';
export * from './dashboard';
export * from './steps';
export * from './across-versions';
