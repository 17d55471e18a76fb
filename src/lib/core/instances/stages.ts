/**
 * Stage order and names shared by sampling, conflict resolution and rendering.
 *
 * Method choice (the paper ranks "stage" in its conflict order without listing the stages' order):
 * stages rank in the order an assistant meets them while answering. Understanding the request
 * comes first (it decides what is being asked and whose instructions count), then deciding whether
 * to help, then actions and tool use (side effects in the world, which are hard to undo), then what
 * the answer says, and style last (tone or format never justifies breaking a substantive rule).
 */
import type { RuleStage } from '../records';

/** Stages, highest precedence first; also the order instance prompts list them in. */
export const STAGE_ORDER: readonly RuleStage[] = [
  'interpretation',
  'decision',
  'action',
  'content',
  'style',
];

/** Headings for each stage in a rendered instance. */
export const STAGE_TITLES: Record<RuleStage, string> = {
  interpretation: 'Understanding the request',
  decision: 'Deciding whether and how to help',
  action: 'Actions and tool use',
  content: 'What the answer says',
  style: 'Tone and format',
};

/** Rank of a stage in {@link STAGE_ORDER} (0 is highest); unknown stages rank last. */
export function stageRank(stage: RuleStage): number {
  const i = STAGE_ORDER.indexOf(stage);
  return i < 0 ? STAGE_ORDER.length : i;
}

/** A family or domain label compared loosely: trimmed, lowercased, inner spaces collapsed. */
export function normaliseLabel(label: string): string {
  return label
    .trim()
    .toLowerCase()
    .replace(/[\s_-]+/g, ' ');
}
