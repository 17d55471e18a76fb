import type { TokenUsage } from './llm';

/**
 * Named errors with messages a user can act on. They cross the worker boundary through
 * Comlink's built-in `throw` transfer handler, which keeps `name`, `message` and `stack` but not
 * the class, so the UI matches on `name` and messages must be self-contained.
 */

export class SpecAlignError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The user (or a newer request) cancelled the work. */
export class AbortedError extends SpecAlignError {
  constructor(message = 'Cancelled.') {
    super(message);
  }
}

/** A model could not be downloaded, read or initialised. */
export class ModelLoadError extends SpecAlignError {}

/** A file given as a GGUF model is not one. */
export class InvalidModelFileError extends ModelLoadError {}

/** This browser cannot run the chosen engine (no WebGPU, missing feature). */
export class EngineUnavailableError extends SpecAlignError {}

/** The GPU device was lost mid-work (driver reset, tab backgrounded on some systems, OOM). */
export class DeviceLostError extends SpecAlignError {}

/** No model is loaded for the role that needs one. */
export class NoModelLoadedError extends SpecAlignError {}

/** An HTTP endpoint could not be reached, refused CORS, or answered with an error. */
export class EndpointError extends SpecAlignError {
  constructor(
    message: string,
    readonly status?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Every replica of an endpoint is set aside after failing repeatedly (see `endpoint-policy.ts`).
 * Not a failure of the task that met it: a run pauses on it, and resumes once a replica answers.
 */
export class EndpointsDownError extends EndpointError {
  constructor(
    message: string,
    /** When the first replica's cool-down ends and it may be probed again (epoch ms). */
    readonly retryAt: number,
    options?: { cause?: unknown },
  ) {
    super(message, undefined, options);
  }
}

/** Model output could not be turned into schema-valid JSON, even after repair and retries. */
export class InvalidModelOutputError extends SpecAlignError {
  constructor(
    message: string,
    readonly rawOutput: string,
    /** Tokens and engine time spent on the failed attempts: they still count. */
    readonly usage: TokenUsage = { promptTokens: 0, completionTokens: 0 },
    readonly durationMs = 0,
  ) {
    super(message);
  }
}

/** The browser refused to store more data (quota exceeded). */
export class StorageFullError extends SpecAlignError {}

/** A file the user gave us is not what it claims to be. */
export class InvalidFileError extends SpecAlignError {}

export function isAbortError(error: unknown): boolean {
  return (
    error instanceof AbortedError ||
    (error instanceof Error && (error.name === 'AbortError' || error.name === 'AbortedError'))
  );
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
