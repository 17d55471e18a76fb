/**
 * Turns a zod issue or a broken JSON text into one message that names the place, shared by
 * every file import (project, rules, eval set) so they all speak the same way.
 */
import type { z } from 'zod';

/** `['tables', 'rules', 12, 'text']` → `tables.rules[12].text`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out ? `.${String(key)}` : String(key);
  }
  return out;
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** "a string", "a number", "an object"… as a person would say it. */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return Number.isFinite(value) ? 'a number' : 'a non-finite number';
    case 'boolean':
      return 'true/false';
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true/false',
  array: 'a list',
  object: 'an object',
  record: 'an object',
};

const quote = (v: unknown) => JSON.stringify(v)?.slice(0, 60) ?? String(v);

/** `tables.rules[12].text: expected a string, got a number`. */
export function describeIssue(issue: z.core.$ZodIssue | undefined, root: unknown): string {
  if (!issue) return 'the file: not valid';
  const place = formatPath(issue.path) || 'the file';
  const value = valueAt(root, issue.path);
  switch (issue.code) {
    case 'invalid_type': {
      if (value === undefined)
        return `${place}: missing (expected ${EXPECTED[issue.expected] ?? issue.expected})`;
      return `${place}: expected ${EXPECTED[issue.expected] ?? issue.expected}, got ${describeType(value)}`;
    }
    case 'invalid_value':
      return `${place}: expected ${issue.values.map(quote).join(' or ')}, got ${quote(value)}`;
    case 'unrecognized_keys':
      return `${place}: unexpected ${issue.keys.map(quote).join(', ')}`;
    case 'too_small':
      if (issue.origin === 'string' && issue.minimum === 1)
        return `${place}: expected a non-empty string`;
      return `${place}: ${issue.message.replace(/^Too small: expected /, 'expected ')}`;
    case 'too_big':
      return `${place}: ${issue.message.replace(/^Too big: expected /, 'expected ')}`;
    default:
      return `${place}: ${issue.message}`;
  }
}

/**
 * When a text fails to parse as JSON because it stops inside a string, object or list, says
 * where it stops ("the file ends early (truncated at byte 81,920)"); otherwise undefined.
 * One linear pass, no recursion, so any nesting depth is fine.
 */
export function describeTruncation(text: string): string | undefined {
  if (!text.trim()) return 'The file is empty';
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (escaped) escaped = false;
      else if (c === 92 /* \ */) escaped = true;
      else if (c === 34 /* " */) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) depth++;
    else if (c === 125 || c === 93) depth--;
  }
  if (!inString && depth <= 0 && !/[,:]\s*$/.test(text)) return undefined;
  const bytes = new TextEncoder().encode(text).byteLength;
  return `The file ends early (truncated at byte ${bytes.toLocaleString('en-US')})`;
}
