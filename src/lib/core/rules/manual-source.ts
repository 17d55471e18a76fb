/**
 * The source of a rule a reviewer writes by hand (issue 10 §8: hand-written rules showed "quote
 * not found" and did not count toward coverage).
 *
 * - With a quote, it is located in the chosen section's text (same matcher as model quotes,
 *   {@link locateQuote}); a quote that is not there is refused with a message saying what to do,
 *   rather than stored as "not found".
 * - Without a quote, the rule keeps the section body as its span, unlocated, with an empty quote:
 *   it is "written by hand" for that section, and coverage counts it for the section's sentences
 *   (see coverage.ts).
 */
import { SpecAlignError } from '../errors';
import type { Rule } from '../records';
import { locateQuote } from './locate-quote';

/** The quote a reviewer gave is not in the section. */
export class ManualQuoteError extends SpecAlignError {}

/** A section's span in the spec text (ingest's `bodyStart`…`end`). */
export interface ManualSpan {
  title: string;
  start: number;
  end: number;
}

/** The `source` of a hand-written rule; see the module comment. @throws ManualQuoteError */
export function manualRuleSource(
  specText: string,
  section: ManualSpan,
  quote: string | undefined,
): Rule['source'] {
  const wanted = quote?.replace(/\s+/g, ' ').trim() ?? '';
  if (!wanted) return { quote: '', start: section.start, end: section.end, located: false };
  const found = locateQuote(wanted, specText.slice(section.start, section.end), {
    base: section.start,
  });
  if (!found.located)
    throw new ManualQuoteError(
      `The quote is not in the section “${section.title}”. Paste the sentence as the spec writes it, choose the section that holds it, or leave the quote empty to attach the rule to the whole section.`,
    );
  return {
    quote: specText.slice(found.start, found.end),
    start: found.start,
    end: found.end,
    located: true,
  };
}
