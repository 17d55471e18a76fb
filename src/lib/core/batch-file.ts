/**
 * Batch job files (issue 12 §5): a run's pending model calls as an OpenAI Batch API input file
 * (JSONL, one `{custom_id, method, url, body}` request per line), and the output file read back
 * line by line (`{id, custom_id, response: {status_code, request_id, body}, error}`), as
 * `vllm run-batch`, OpenAI's and other providers' batch APIs, or a Ray Data job write it.
 *
 * Pure: the worker builds each request body with the endpoint engine's own wire format
 * (engines/openai-protocol.ts) and applies the validated lines through the run's step machine.
 *
 * The `custom_id` names the run, the task (its order), the role that answers and a fingerprint
 * of the exact request: an output line answers that request only. A file exported before the
 * task moved on (a step applied live, the same file imported already) no longer matches the
 * task's current request, so nothing is applied twice. It stays within 64 characters, the
 * shortest cap providers put on it.
 */
import { fnv1aHex } from './hash';
import type { ChatRequest } from './llm';

/** The `url` of every request line: the chat-completions route. */
export const BATCH_URL = '/v1/chat/completions';
/** Prefix and format version of this app's custom ids. */
const ID_PREFIX = 'sa1';
/** Most lines a problem report lists one by one; the rest are counted. */
export const MAX_LISTED_PROBLEMS = 200;

/** Roles that may answer a batch line, with their one-letter codes in the custom id. */
export const BATCH_ROLE_CODES = { annotator: 'a', target: 't', safetyJudge: 'j' } as const;
export type BatchRole = keyof typeof BATCH_ROLE_CODES;

/** What a custom id names. */
export interface BatchLineId {
  runId: string;
  /** The task's `order` within its run. */
  order: number;
  role: BatchRole;
  /** {@link requestFingerprint} of the request the line answers. */
  fingerprint: string;
}

/**
 * 8 hex digits over what the model sees of a request (messages, schema, limits, seed): the same
 * step of the same task gives the same fingerprint; any other request another.
 */
export function requestFingerprint(request: ChatRequest): string {
  return fnv1aHex(
    JSON.stringify([
      request.messages.map((m) => [m.role, m.content]),
      request.jsonSchema ?? null,
      request.maxTokens ?? null,
      request.temperature ?? null,
      request.seed ?? null,
    ]),
  );
}

export function encodeCustomId(id: BatchLineId): string {
  return [
    ID_PREFIX,
    id.runId,
    id.order.toString(36),
    BATCH_ROLE_CODES[id.role],
    id.fingerprint,
  ].join('.');
}

/** The parts of a custom id, or undefined when it is not one of this app's. */
export function decodeCustomId(customId: string): BatchLineId | undefined {
  const parts = customId.split('.');
  if (parts.length !== 5) return undefined;
  const [prefix, runId, order, code, fingerprint] = parts as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (prefix !== ID_PREFIX || !runId || !/^[0-9a-z]{1,8}$/.test(order)) return undefined;
  if (!/^[0-9a-f]{8}$/.test(fingerprint)) return undefined;
  const role = (Object.keys(BATCH_ROLE_CODES) as BatchRole[]).find(
    (r) => BATCH_ROLE_CODES[r] === code,
  );
  if (!role) return undefined;
  return { runId, order: parseInt(order, 36), role, fingerprint };
}

/** One line of the input file: the request body is the engine's chat-completions body. */
export function buildRequestLine(id: BatchLineId, body: Record<string, unknown>): string {
  return JSON.stringify({ custom_id: encodeCustomId(id), method: 'POST', url: BATCH_URL, body });
}

/** A problem with one line of an output file (1-based line number; 0 for the file as a whole). */
export interface BatchLineProblem {
  line: number;
  customId?: string;
  /** The task's order, when the custom id named one of this run's. */
  order?: number;
  message: string;
}

/** A line that passed the file-level checks: its completion awaits the step's own checks. */
export interface BatchOutputEntry {
  line: number;
  customId: string;
  id: BatchLineId;
  /** The chat completion (`response.body`). */
  completion: Record<string, unknown>;
}

export interface ParsedBatchOutput {
  entries: BatchOutputEntry[];
  problems: BatchLineProblem[];
  /** Non-blank lines read. */
  lines: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function clip(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/** The human part of an error object or body: OpenAI `{error:{message}}`, `{message}`, `{detail}`. */
function errorText(value: unknown): string {
  if (typeof value === 'string') return clip(value);
  if (!isRecord(value)) return '';
  if (isRecord(value.error)) return errorText(value.error);
  if (typeof value.error === 'string') return clip(value.error);
  const code = typeof value.code === 'string' || typeof value.code === 'number' ? value.code : '';
  const message =
    typeof value.message === 'string'
      ? value.message
      : typeof value.detail === 'string'
        ? value.detail
        : '';
  return clip([code, message].filter((p) => p !== '').join(': '));
}

/**
 * Reads an output file of run `runId`: every line is checked for JSON, a custom id of this run
 * (not another's, not twice), no error object, HTTP 200 and a chat completion with a choice.
 * Lines that pass are `entries`; every other line is a `problem` saying what is wrong. CRLF line
 * ends and blank lines are fine; a last line cut off mid-JSON is reported as such.
 */
export function parseBatchOutput(text: string, runId: string): ParsedBatchOutput {
  const entries: BatchOutputEntry[] = [];
  const problems: BatchLineProblem[] = [];
  const seen = new Map<string, number>();
  const rows = text.replace(/^\uFEFF/, '').split('\n');
  const lastContent = rows.findLastIndex((r) => r.trim() !== '');
  const endsWithNewline = /\n\s*$/.test(text);
  let lines = 0;
  rows.forEach((raw, index) => {
    const row = raw.replace(/\r$/, '');
    if (!row.trim()) return;
    lines++;
    const line = index + 1;
    let value: unknown;
    try {
      value = JSON.parse(row);
    } catch (error) {
      problems.push({
        line,
        message:
          index === lastContent && !endsWithNewline
            ? 'the line is cut short (the file ends in the middle of it: was the download complete?)'
            : `not valid JSON (${(error as Error).message})`,
      });
      return;
    }
    if (!isRecord(value)) {
      problems.push({ line, message: 'not a JSON object' });
      return;
    }
    const customId = value.custom_id;
    if (typeof customId !== 'string' || !customId) {
      problems.push({ line, message: 'no "custom_id"' });
      return;
    }
    const id = decodeCustomId(customId);
    if (!id) {
      problems.push({
        line,
        customId,
        message: `"${clip(customId, 70)}" is not a request id this app wrote`,
      });
      return;
    }
    if (id.runId !== runId) {
      problems.push({
        line,
        customId,
        message: `belongs to another run (${id.runId}): this file was exported from a different run`,
      });
      return;
    }
    const here = { line, customId, order: id.order };
    const first = seen.get(customId);
    if (first !== undefined) {
      problems.push({ ...here, message: `duplicate custom_id (first on line ${first})` });
      return;
    }
    seen.set(customId, line);
    if (value.error !== null && value.error !== undefined) {
      problems.push({
        ...here,
        message: `the batch reported an error: ${errorText(value.error) || clip(JSON.stringify(value.error))}`,
      });
      return;
    }
    const response = value.response;
    if (!isRecord(response)) {
      problems.push({ ...here, message: 'no "response" object' });
      return;
    }
    const status = response.status_code;
    if (typeof status !== 'number') {
      problems.push({ ...here, message: 'the response has no "status_code"' });
      return;
    }
    if (status !== 200) {
      const detail = errorText(response.body);
      problems.push({
        ...here,
        message: `the request failed with HTTP ${status}${detail ? `: ${detail}` : ''}`,
      });
      return;
    }
    const body = response.body;
    if (!isRecord(body) || !Array.isArray(body.choices) || !isRecord(body.choices[0])) {
      problems.push({ ...here, message: 'the response body holds no chat completion ("choices")' });
      return;
    }
    entries.push({ line, customId, id, completion: body });
  });
  if (lines === 0) problems.push({ line: 0, message: 'the file is empty' });
  return { entries, problems, lines };
}

/** How an import went, line by line (what the UI lists). */
export interface BatchImportReport {
  /** Non-blank lines read. */
  lines: number;
  /** Lines whose answer completed a step. */
  applied: number;
  /** Lines whose step had been applied before (the same file imported again, or done live). */
  alreadyApplied: number;
  /** Lines that could not be used, with the reason; at most {@link MAX_LISTED_PROBLEMS}. */
  problems: BatchLineProblem[];
  /** All problem lines, including those past the listed ones. */
  problemCount: number;
  /** Tasks of the run still waiting for a model answer after the import. */
  pending: number;
  /** Set when the import was cancelled: lines after the last applied one were not read. */
  cancelled?: boolean;
}

/** A problem as one line of text: "line 12 (task 4): …". */
export function describeProblem(problem: BatchLineProblem): string {
  const where = problem.line > 0 ? `line ${problem.line}` : 'file';
  const task = problem.order !== undefined ? ` (task ${problem.order + 1})` : '';
  return `${where}${task}: ${problem.message}`;
}
