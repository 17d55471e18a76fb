import { describe, expect, it } from 'vitest';
import {
  markdownNestingDepth,
  MAX_RENDER_CHARS,
  MAX_RENDER_DEPTH,
  plainTextReason,
} from '$lib/core/spec/markdown-limits';
import {
  deeplyNestedList,
  hugeParagraph,
  manySections,
} from '../../../fixtures/pathological-specs';

describe('Markdown render limits', () => {
  it('estimates list and blockquote nesting from indentation and > markers', () => {
    expect(markdownNestingDepth('plain\ntext')).toBe(0);
    expect(markdownNestingDepth('- a\n  - b\n    - c')).toBe(2);
    expect(markdownNestingDepth('>>> quoted')).toBe(3);
    expect(markdownNestingDepth('\t\t- tabbed')).toBe(4);
    expect(markdownNestingDepth(deeplyNestedList(3000))).toBe(2999);
  });

  it('renders ordinary sections as Markdown', () => {
    expect(plainTextReason('- a\n  - b\n\n> quote\n\nThe assistant must be kind.')).toBeUndefined();
    expect(plainTextReason(manySections(50))).toBeUndefined();
  });

  it('shows too-deep nesting as plain text, and says why', () => {
    expect(plainTextReason(deeplyNestedList(MAX_RENDER_DEPTH + 1))).toBeUndefined();
    expect(plainTextReason(deeplyNestedList(MAX_RENDER_DEPTH + 2))).toMatch(
      /plain text: its lists or quotes nest more than 32 levels deep/,
    );
    expect(plainTextReason(deeplyNestedList(3000))).toMatch(/more than 32 levels deep/);
    // The scan stops as soon as the answer is known.
    expect(markdownNestingDepth(deeplyNestedList(3000), MAX_RENDER_DEPTH)).toBe(
      MAX_RENDER_DEPTH + 1,
    );
  });

  it('shows a section larger than the limit as plain text', () => {
    expect(plainTextReason('x'.repeat(MAX_RENDER_CHARS))).toBeUndefined();
    expect(plainTextReason(hugeParagraph())).toMatch(
      /plain text: at 2,048 KB it is larger than the 256 KB/,
    );
  });
});
