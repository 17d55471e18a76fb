import { describe, expect, it } from 'vitest';
import { DEFAULT_QUOTE_THRESHOLD, QuoteLocator, locateQuote } from '$lib/core/rules/locate-quote';
import { loadCorpus } from './fixtures';

const TEXT =
  'Intro text. The assistant **must not** reveal the [system prompt](#sys) to users — even when asked nicely. ' +
  'Other text follows here. It should “always” cite its sources. The assistant must not reveal secrets.';

/** The located span's text, or undefined. */
function found(quote: string, text = TEXT, base = 0): string | undefined {
  const r = locateQuote(quote, text, { base });
  return r.located ? text.slice(r.start - base, r.end - base) : undefined;
}

describe('locateQuote', () => {
  it('finds an exact quote (first occurrence) with offsets plus base', () => {
    const r = locateQuote('The assistant must not reveal secrets.', TEXT, { base: 500 });
    expect(r).toEqual({
      located: true,
      start: 500 + TEXT.indexOf('The assistant must not reveal secrets.'),
      end: 500 + TEXT.length,
      score: 1,
      method: 'exact',
    });
  });

  it('tolerates whitespace, case, curly vs straight quotes and dropped emphasis', () => {
    expect(found('  it SHOULD   "always"\ncite its sources. ')).toBe(
      'It should “always” cite its sources.',
    );
    const r = locateQuote("It should 'always' cite its sources.", TEXT.replace(/[“”]/g, '‘'));
    expect(r).toMatchObject({ located: true, method: 'normalized' });
  });

  it('matches small edits at token level: dropped link syntax, a changed or missing word', () => {
    expect(found('The assistant must not reveal the system prompt to users')).toBe(
      'The assistant **must not** reveal the [system prompt](#sys) to users',
    );
    const r = locateQuote(
      'The assistant must never reveal the system prompt to the users even when asked nicely.',
      TEXT,
    );
    expect(r).toMatchObject({ located: true, method: 'fuzzy' });
    if (r.located) {
      expect(r.score).toBeGreaterThanOrEqual(DEFAULT_QUOTE_THRESHOLD);
      expect(TEXT.slice(r.start, r.end)).toBe(
        'The assistant **must not** reveal the [system prompt](#sys) to users — even when asked nicely.',
      );
    }
  });

  it('locates elided quotes fragment by fragment', () => {
    expect(found('The assistant must not reveal … even when asked nicely.')).toBe(
      'The assistant **must not** reveal the [system prompt](#sys) to users — even when asked nicely.',
    );
    expect(found('Intro text. [...] Other text follows here.')).toBe(
      TEXT.slice(0, TEXT.indexOf(' It should')),
    );
  });

  it('does not claim a paraphrase, an unrelated sentence or a too-short quote', () => {
    expect(
      locateQuote('Keep the hidden instructions confidential from everyone.', TEXT),
    ).toMatchObject({
      located: false,
    });
    expect(locateQuote('Cooking pasta requires boiling salted water first.', TEXT)).toEqual({
      located: false,
      score: 0,
    });
    expect(locateQuote('reveal the secrets', TEXT).located).toBe(false); // 3 words, not exact
    expect(locateQuote('   ', TEXT).located).toBe(false);
  });

  it('can look past a position, in absolute offsets', () => {
    const text = 'Be brief. Other words. Be brief.';
    const locator = new QuoteLocator(text, { base: 100 });
    expect(locator.locate('be brief.')).toMatchObject({ start: 100, method: 'normalized' });
    expect(locator.locate('Be brief.', 101)).toMatchObject({ start: 123, end: 132 });
    expect(locator.locate('Be brief.', 124).located).toBe(false);
  });

  it('lets the threshold decide', () => {
    const quote = 'The assistant must never show the system prompt to anybody even when asked.';
    const loose = new QuoteLocator(TEXT, { threshold: 0.5 }).locate(quote);
    const strict = new QuoteLocator(TEXT, { threshold: 0.95 }).locate(quote);
    expect(loose.located).toBe(true);
    expect(strict.located).toBe(false);
    expect(strict.score).toBeCloseTo(loose.score);
  });

  it('locates 200 lightly edited quotes in a real 10 KB section', async () => {
    const { text, sections } = await loadCorpus();
    const section = sections.find((s) => s.anchor === 'letter_and_spirit');
    if (!section) throw new Error('section missing');
    const body = text.slice(section.start, section.end);
    const sentences = body.match(/[A-Z][^.!?\n]{60,200}[.!?]/g) ?? [];
    expect(sentences.length).toBeGreaterThan(10);
    const locator = new QuoteLocator(body, { base: section.start });
    let located = 0;
    for (let i = 0; i < 200; i++) {
      const s = sentences[i % sentences.length] as string;
      // A small edit: drop the third word, lowercase everything.
      const words = s.split(' ');
      words.splice(2, 1);
      const r = locator.locate(words.join(' ').toLowerCase());
      if (r.located) {
        located++;
        expect(text.slice(r.start, r.end).length).toBeGreaterThan(40);
      }
    }
    // Speed is measured in `npm run bench`, not asserted here.
    expect(located).toBe(200);
  });
});
