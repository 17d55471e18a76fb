import { describe, expect, it } from 'vitest';
import { scanText, splitLines } from '../../../../src/lib/core/spec/scan-lines';

describe('scanText', () => {
  it('splits lines with offsets', () => {
    expect(splitLines('a\nbc\n')).toEqual([
      { start: 0, end: 1, text: 'a' },
      { start: 2, end: 4, text: 'bc' },
      { start: 5, end: 5, text: '' },
    ]);
  });

  it('finds fences: same marker, at least as long, info string, unclosed to the end', () => {
    const text = '~~~~xml\n```\n~~~\n~~~~~\nafter\n``` js\ncode\n';
    const { fences, fenceOfLine } = scanText(text);
    expect(fences).toEqual([
      {
        start: 0,
        end: text.indexOf('after'),
        contentStart: 8,
        contentEnd: text.indexOf('~~~~~'),
        openLine: 0,
        closeLine: 3,
        marker: '~',
        info: 'xml',
      },
      {
        start: text.indexOf('``` js'),
        end: text.length,
        contentStart: text.indexOf('code'),
        contentEnd: text.length,
        openLine: 5,
        closeLine: -1,
        marker: '`',
        info: 'js',
      },
    ]);
    expect(Array.from(fenceOfLine)).toEqual([0, 0, 0, 0, -1, 1, 1, 1]);
    // Inline code with backticks in the "info string" is not a fence.
    expect(scanText('```a`b```\n').fences).toEqual([]);
  });

  it('finds admonitions: 4-space content, blank lines inside, trailing blanks excluded', () => {
    const text = [
      'Intro',
      '!!! meta "Commentary"',
      '',
      '    First.',
      '',
      '    Second.',
      '',
      '  not content (2 spaces)',
      '!!! note',
      '    x',
      '',
    ].join('\n');
    const { admonitions } = scanText(text);
    expect(admonitions).toEqual([
      { start: 6, end: text.indexOf('\n\n  not') + 1, kind: 'meta', title: 'Commentary' },
      { start: text.indexOf('!!! note'), end: text.indexOf('    x') + 6, kind: 'note' },
    ]);
  });
});
