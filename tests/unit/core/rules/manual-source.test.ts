import { describe, expect, it } from 'vitest';
import { measureCoverage } from '$lib/core/rules/coverage';
import { ManualQuoteError, manualRuleSource } from '$lib/core/rules/manual-source';
import { detectNormativeSentences } from '$lib/core/rules/normative';

const text =
  '# Policy\n\n## Privacy\n\nThe assistant must never reveal personal data. It should ask before storing notes.\n\n' +
  '## Tone\n\nThe assistant should be kind.\n';
const privacy = {
  title: 'Privacy',
  start: text.indexOf('The assistant must'),
  end: text.indexOf('## Tone'),
};
const tone = { title: 'Tone', start: text.indexOf('The assistant should be'), end: text.length };
const sections = [
  { anchor: 'privacy', title: 'Privacy', start: text.indexOf('## Privacy'), end: privacy.end },
  { anchor: 'tone', title: 'Tone', start: privacy.end, end: text.length },
];

describe('manualRuleSource', () => {
  it('locates a quote inside the chosen section', () => {
    const source = manualRuleSource(text, privacy, '  should ask before   storing notes ');
    expect(source.located).toBe(true);
    expect(text.slice(source.start, source.end)).toBe('should ask before storing notes');
  });

  it('refuses a quote the section does not hold, saying what to do', () => {
    expect(() => manualRuleSource(text, tone, 'never reveal personal data')).toThrow(
      ManualQuoteError,
    );
    expect(() => manualRuleSource(text, tone, 'never reveal personal data')).toThrow(
      /not in the section “Tone”.*leave the quote empty/,
    );
  });

  it('without a quote, attaches to the section and counts toward its coverage', () => {
    const source = manualRuleSource(text, privacy, '');
    expect(source).toEqual({ quote: '', start: privacy.start, end: privacy.end, located: false });
    const normative = detectNormativeSentences(text);
    const manual = { source, status: 'accepted' as const, origin: 'manual' as const };
    const report = measureCoverage(normative, [manual], sections);
    expect(report.sections.find((s) => s.anchor === 'privacy')).toMatchObject({
      sentences: 2,
      covered: 2,
      rules: 1,
    });
    expect(report.sectionsWithoutRules).toEqual(['tone']);
    // A model rule whose quote was not found still covers nothing.
    const lost = { ...manual, origin: 'model' as const, source: { ...source, quote: 'made up' } };
    expect(measureCoverage(normative, [lost], sections).covered).toBe(0);
  });
});
