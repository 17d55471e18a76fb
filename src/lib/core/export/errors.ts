import { SpecAlignError } from '../errors';

/**
 * The selection to export holds no exportable pair. Exporters throw it before writing a single
 * byte, so the user never gets an empty (and silently useless) training file.
 */
export class EmptyExportError extends SpecAlignError {
  constructor(
    message = 'Nothing to export: no preference pair matches the selection. Accept some pairs (or include pending ones) and export again.',
    /** Pairs that matched the selection but could not be exported (e.g. no user turn). */
    readonly skipped = 0,
  ) {
    super(message);
  }
}
