import { z } from 'zod';
import { AbortedError, InvalidModelOutputError } from './errors';
import {
  addUsage,
  usageOfResult,
  type ChatEngine,
  type ChatRequest,
  type ChatResult,
  type JsonSchema,
  type TokenUsage,
} from './llm';

// zod would otherwise probe `new Function` for speed, which our Content-Security-Policy forbids.
z.config({ jitless: true });

/** The JSON Schema an engine's constrained decoder receives for a zod schema. */
export function toJsonSchema(schema: z.ZodType): JsonSchema {
  const json = z.toJSONSchema(schema, { target: 'draft-7', unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}

/**
 * Pulls a JSON value out of model text: strips code fences and prose around the first balanced
 * object or array. Small models often wrap JSON in ```json fences or add a sentence before it.
 */
export function extractJson(text: string): unknown {
  const trimmed = text.trim();
  try {
    return JSON.parse(trimmed);
  } catch {
    // fall through to the tolerant path
  }
  const fenced = /```(?:json)?\s*([\s\S]*?)```/i.exec(trimmed);
  const body = fenced?.[1] ?? trimmed;
  const start = body.search(/[[{]/);
  if (start < 0) throw new SyntaxError('no JSON object in the reply');
  const end = findBalancedEnd(body, start);
  if (end < 0) throw new SyntaxError('the JSON in the reply is cut off (unbalanced brackets)');
  return JSON.parse(body.slice(start, end + 1));
}

function findBalancedEnd(text: string, start: number): number {
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

export interface JsonCallResult<T> {
  value: T;
  /** Usage summed over every attempt, failed ones included: they cost tokens too. */
  usage: TokenUsage;
  /** Engine time summed over every attempt, in milliseconds. */
  durationMs: number;
  attempts: number;
  last: ChatResult;
}

export interface JsonCallOptions {
  /** Extra attempts after the first; each tells the model what was wrong. Default 2. */
  retries?: number;
}

/**
 * One schema-constrained call with bounded repair: parse tolerantly, validate with zod, and on
 * failure ask again with the validation errors, at most `retries` more times. Then throw
 * {@link InvalidModelOutputError} carrying the last raw output, so the caller can record why.
 */
export async function chatJson<S extends z.ZodType>(
  engine: ChatEngine,
  request: Omit<ChatRequest, 'jsonSchema'>,
  schema: S,
  options: JsonCallOptions = {},
): Promise<JsonCallResult<z.output<S>>> {
  const retries = options.retries ?? 2;
  const jsonSchema = toJsonSchema(schema);
  let usage: TokenUsage = { promptTokens: 0, completionTokens: 0 };
  let messages = request.messages;
  let problem = '';
  let durationMs = 0;
  let last: ChatResult | undefined;
  for (let attempt = 1; attempt <= retries + 1; attempt++) {
    if (request.signal?.aborted) throw new AbortedError();
    last = await engine.chat({ ...request, messages, jsonSchema });
    usage = addUsage(usage, usageOfResult(last));
    durationMs += last.durationMs;
    problem = diagnose(last, schema);
    if (!problem) {
      const value = schema.parse(extractJson(last.text)) as z.output<S>;
      return { value, usage, durationMs, attempts: attempt, last };
    }
    messages = [
      ...request.messages,
      { role: 'assistant', content: last.text },
      {
        role: 'user',
        content: `${REPAIR_PREFIX}${problem}${REPAIR_SUFFIX}`,
      },
    ];
  }
  throw new InvalidModelOutputError(
    `The model's reply was not valid JSON for this step after ${retries + 1} attempts: ${problem}.`,
    last?.text ?? '',
    usage,
    durationMs,
  );
}

const REPAIR_PREFIX = 'That reply was not usable: ';
const REPAIR_SUFFIX = '. Reply again with only a JSON value that matches the schema.';

/**
 * The problem a repair request of {@link chatJson} names (what was wrong with the reply before
 * it), or undefined when `request` is not a repair. Batch files cannot ask again: an imported
 * answer that would need a repair is reported with this problem instead.
 */
export function repairProblemOf(request: Pick<ChatRequest, 'messages'>): string | undefined {
  const last = request.messages.at(-1);
  if (last?.role !== 'user' || !last.content.startsWith(REPAIR_PREFIX)) return undefined;
  if (!last.content.endsWith(REPAIR_SUFFIX)) return undefined;
  return last.content.slice(REPAIR_PREFIX.length, -REPAIR_SUFFIX.length);
}

/** Returns '' when the result is usable, else a short description of what is wrong. */
function diagnose(result: ChatResult, schema: z.ZodType): string {
  if (!result.text.trim()) return 'the reply was empty';
  let parsed: unknown;
  try {
    parsed = extractJson(result.text);
  } catch (error) {
    const cut = result.finishReason === 'length' ? ' (it hit the token limit)' : '';
    return `it is not JSON${cut}: ${(error as Error).message}`;
  }
  const check = schema.safeParse(parsed);
  if (check.success) return '';
  return check.error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    .join('; ');
}
