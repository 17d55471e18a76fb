/** Evaluation (METHOD.md §5): held-out items, the target, RCS, judge calibration, dashboard. */
export * from './items';
export * from './target';
export * from './rcs';
export * from './calibration';
export * from './dashboard';
