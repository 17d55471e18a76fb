/**
 * The judges' rationale from a pair's provenance, as short plain-text notes for the Review
 * screen. Provenance is read through its one reader (`readPairProvenance`): synthesis records
 * `judgements` (one entry per judge call); a corrupt record becomes one note saying so (the pair
 * view still opens); foreign writers may record a `judge` or `verdicts` object, shown as compact
 * JSON.
 */
import type { PreferencePair } from '$lib/core/records';
import { readPairProvenance } from '$lib/core/stored/pair-provenance';
export interface JudgeNote {
  title: string;
  lines: string[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
}

function judgementNote(j: Record<string, unknown>): JudgeNote {
  const title = [
    `${text(j.judge) || 'judge'} judge on ${text(j.subject) || 'reply'}`,
    typeof j.attempt === 'number' ? `attempt ${j.attempt}` : '',
    typeof j.passed === 'boolean' ? (j.passed ? 'passed' : 'failed') : '',
  ]
    .filter(Boolean)
    .join(' · ');
  const lines: string[] = [];
  const safety = j.safety;
  if (isRecord(safety) && Array.isArray(safety.verdicts)) {
    // The checklist judges every rule of the instance: untouched rules go on one line.
    const untouched: string[] = [];
    for (const v of safety.verdicts.filter(isRecord)) {
      const label = text(v.label) || text(v.ruleId);
      if (v.verdict === 'not-applicable') untouched.push(label);
      else lines.push(`${label}: ${text(v.verdict)} — ${text(v.rationale)}`);
    }
    if (untouched.length) lines.push(`Not touched by this exchange: ${untouched.join(', ')}.`);
    if (safety.overRefusal === true) lines.push('Over-refusal.');
  }
  const quality = j.quality;
  if (isRecord(quality))
    lines.push(
      `Helpfulness ${text(quality.helpfulness)}, fluency ${text(quality.fluency)} — ${text(quality.rationale)}`,
    );
  if (typeof j.contradiction === 'string') lines.push(`Contradiction: ${j.contradiction}`);
  return { title, lines };
}

/** Notes for every judge record in the pair's provenance, in recorded order. */
export function judgeNotes(pair: PreferencePair): JudgeNote[] {
  const read = readPairProvenance(pair.provenance, pair.id);
  if (!read.ok) return [{ title: 'Provenance unreadable', lines: [read.error.message] }];
  if (read.value) return read.value.judgements.map((j) => judgementNote({ ...j }));
  const provenance = pair.provenance;
  const notes: JudgeNote[] = [];
  for (const [key, value] of Object.entries(provenance)) {
    if (!/judge|verdict/i.test(key)) continue;
    if (Array.isArray(value)) notes.push(...value.filter(isRecord).map(judgementNote));
    else if (isRecord(value)) notes.push({ title: key, lines: [JSON.stringify(value)] });
  }
  return notes;
}
