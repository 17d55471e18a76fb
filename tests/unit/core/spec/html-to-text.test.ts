import { describe, expect, it } from 'vitest';
import { decodeEntities, htmlToText } from '../../../../src/lib/core/spec/html-to-text';
import { parseSections } from '../../../../src/lib/core/spec/parse-markdown';

describe('htmlToText', () => {
  it('drops scripts and styles without running them, and keeps inline markup as text', () => {
    const html =
      '<html><head><title>Policy &amp; Rules</title><style>p { color: red }</style>' +
      '<script>globalThis.__specHacked = true; document.write("<h1>evil</h1>")</script></head>' +
      '<body><h1>Rules</h1><p>The assistant <b>must</b> be <i>kind</i> &amp; <a href="x">honest</a>.</p>' +
      '<script type="module">throw new Error("</p>")</script><noscript>enable JS</noscript></body></html>';
    const { text, title } = htmlToText(html);
    expect(title).toBe('Policy & Rules');
    expect(text).toBe('# Rules\n\nThe assistant must be kind & honest.');
    expect((globalThis as { __specHacked?: boolean }).__specHacked).toBeUndefined();
  });

  it('turns headings, lists, pre, quotes and tables into Markdown-ish text', () => {
    const html = [
      '<h2 id="scope">Scope</h2><p>Line one<br>line two</p>',
      '<ul><li>first</li><li>second<ol><li>inner</li></ol></li></ul>',
      '<pre><code>if (a &lt; b) {\n  # not a heading\n}</code></pre>',
      '<blockquote><p>quoted</p></blockquote>',
      '<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr></table>',
      '<p># hash at line start</p>',
    ].join('');
    expect(htmlToText(html).text).toBe(
      [
        '## Scope {#scope}',
        '',
        'Line one',
        'line two',
        '',
        '- first',
        '- second',
        '  1. inner',
        '',
        '```',
        'if (a < b) {',
        '  # not a heading',
        '}',
        '```',
        '',
        '> quoted',
        '',
        'A | B',
        '1 | 2',
        '',
        '\\# hash at line start',
      ].join('\n'),
    );
  });

  it('feeds the section parser: heading ids become anchors, escaped # lines stay text', () => {
    const { text } = htmlToText('<h1 id="a">A</h1><p>#1 priority</p><h2>B</h2><pre># code</pre>');
    const sections = parseSections(text).sections;
    expect(sections.map((s) => s.anchor)).toEqual(['a', 'a/b']);
  });

  it('tolerates malformed markup', () => {
    expect(htmlToText('<p>unclosed <b>bold <p>next</div></span> a < b and c > d').text).toBe(
      // </div> closes a block even without its opening tag; a lone "<" is text.
      'unclosed bold\n\nnext\n\na < b and c > d',
    );
    expect(htmlToText('<svg><svg><text>x</text></svg></svg>after').text).toBe('after');
    expect(htmlToText('<!-- comment <p>hidden</p> -->shown').text).toBe('shown');
    expect(htmlToText('').text).toBe('');
  });

  it('decodes entities', () => {
    expect(
      decodeEntities('&lt;&gt;&amp;&quot;&#39;&#x1F600;&eacute;&nbsp;&mdash;&bogus;&amp'),
    ).toBe('<>&"\'😀é —&bogus;&');
    expect(decodeEntities('&#0;&#xD800;&#x110000;')).toBe('\ufffd\ufffd\ufffd');
  });
});
