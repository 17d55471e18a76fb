import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  describeIssue,
  describeTruncation,
  describeType,
  formatPath,
} from '$lib/core/validation-messages';

describe('validation messages', () => {
  it('formats paths the way a reader indexes them', () => {
    expect(formatPath(['tables', 'rules', 12, 'text'])).toBe('tables.rules[12].text');
    expect(formatPath([3, 'a'])).toBe('[3].a');
    expect(formatPath([])).toBe('');
  });

  it('names the place, the expected type and the type found', () => {
    const schema = z.object({ rules: z.array(z.object({ text: z.string() })) });
    const raw = { rules: [{ text: 'ok' }, { text: 7 }] };
    const issue = schema.safeParse(raw).error?.issues[0];
    expect(describeIssue(issue, raw)).toBe('rules[1].text: expected a string, got a number');
  });

  it('says "missing" for an absent field and lists allowed values', () => {
    const schema = z.object({ a: z.string(), b: z.enum(['x', 'y']) });
    expect(describeIssue(schema.safeParse({ b: 'x' }).error?.issues[0], { b: 'x' })).toBe(
      'a: missing (expected a string)',
    );
    const raw = { a: '', b: 'z' };
    expect(describeIssue(schema.safeParse(raw).error?.issues[0], raw)).toBe(
      'b: expected "x" or "y", got "z"',
    );
  });

  it('describes values in words', () => {
    expect(describeType(null)).toBe('null');
    expect(describeType([])).toBe('a list');
    expect(describeType({})).toBe('an object');
    expect(describeType(true)).toBe('true/false');
  });

  it('recognises JSON cut short, inside a string, an object or after a comma', () => {
    expect(describeTruncation('{"a": "unfinished')).toMatch(/truncated at byte 17/);
    expect(describeTruncation('{"a": [1, 2')).toMatch(/truncated at byte 11/);
    expect(describeTruncation('[1,')).toMatch(/ends early/);
    expect(describeTruncation('{"a": "\\"}"')).toMatch(/ends early/);
    expect(describeTruncation('')).toBe('The file is empty');
  });

  it('does not call complete but invalid JSON truncated', () => {
    expect(describeTruncation('{"a": nope}')).toBeUndefined();
    expect(describeTruncation('{"a": 1}}')).toBeUndefined();
  });

  it('counts bytes, not characters, and groups thousands', () => {
    expect(describeTruncation('["é')).toMatch(/byte 4\)/);
    expect(describeTruncation(`[${'1,'.repeat(5000)}`)).toMatch(/byte 10,001\)/);
  });

  it('handles any nesting depth in one pass (no recursion)', () => {
    expect(describeTruncation('['.repeat(200_000))).toMatch(/byte 200,000/);
  });
});
