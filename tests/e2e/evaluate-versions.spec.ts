/**
 * Evaluate across versions (issue 11 §5) end to end: a project with v1 and v2 (updated: one rule
 * kept, one reworded, one retired, one new) and an evaluation run on each. The comparison scores
 * both runs on v2's rules — RCS per group (kept, changed, new) and per rule, chart and table —
 * and counts v1's stale items; "each run's own version" gives the plain comparison back.
 */
import { computeRcs, type EvalItemResult, type RuleMeta } from '../../src/lib/core/evaluation/rcs';
import { expect, test } from './fixtures';
import { openProjectFile } from './harness/project-file';

const now = 1_700_000_000_000;
const meta = (statement: string): RuleMeta => ({ statement, family: 'privacy', stage: 'content' });
const rule = (id: string, version: string, lineageId: string, statement: string) => ({
  id,
  lineageId,
  projectId: 'p',
  specVersionId: version,
  sectionAnchor: 'policy',
  statement,
  direction: 'negative',
  stage: 'content',
  domain: 'support',
  family: 'privacy',
  priority: 4,
  strength: 'must',
  exceptions: [],
  appliesWhen: [],
  source: { quote: 'must', start: 24, end: 28, located: true },
  status: 'accepted',
  origin: 'model',
  createdAt: now,
  updatedAt: now,
});
const V1 = [
  rule('keep-1', 'v1', 'keep', 'Never reveal personal data.'),
  rule('change-1', 'v1', 'change', 'Say when unsure.'),
  rule('retire-1', 'v1', 'retire', 'Never give legal advice.'),
];
const V2 = [
  rule('keep-2', 'v2', 'keep', 'Never reveal personal data.'),
  rule('change-2', 'v2', 'change', 'Say when unsure, and why.'),
  rule('new-2', 'v2', 'new-2', 'Offer a human agent for complaints.'),
];

type Verdict = 'complied' | 'violated';
function evaluation(runId: string, rules: typeof V1, items: [string, Verdict][][]) {
  const results: EvalItemResult[] = items.map((checks, i) => ({
    key: `q${i}`,
    instanceId: 'inst',
    caseType: 'violation',
    overRefusal: false,
    checks: checks.map(([ruleId, verdict]) => ({ ruleId, verdict })),
  }));
  const ruleMeta = Object.fromEntries(rules.map((r) => [r.id, meta(r.statement)]));
  return {
    run: {
      id: runId,
      projectId: 'p',
      kind: 'evaluate',
      status: 'done',
      config: {
        v: 1,
        mode: 'rcs',
        evaluationId: `${runId}-eval`,
        request: {},
        targetEngineId: 't',
      },
      createdAt: now + (runId === 'run-v2' ? 10 : 0),
      updatedAt: now,
      progress: { done: items.length, failed: 0, total: items.length },
      usage: { promptTokens: 0, completionTokens: 0 },
    },
    evaluation: {
      id: `${runId}-eval`,
      projectId: 'p',
      runId,
      target: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'target' },
      createdAt: now,
      results: {
        v: 2,
        mode: 'rcs',
        label: runId === 'run-v2' ? 'After update' : 'Before update',
        rules: ruleMeta,
        items: Object.fromEntries(results.map((r) => [r.key, { ...r, judge: 'j' }])),
        summary: computeRcs(results, ruleMeta),
      },
    },
  };
}

function projectFile() {
  const version = (id: string, n: number) => ({
    id,
    projectId: 'p',
    versionNumber: n,
    title: 'Policy',
    sourceName: `policy-${n}.md`,
    sourceType: 'markdown',
    format: 'markdown',
    text: '# Policy\n\nThe assistant must never reveal personal data.\n',
    contentHash: `${n}`.repeat(64),
    createdAt: now + n,
    ...(n === 2 ? { previousVersionId: 'v1' } : {}),
  });
  const before = evaluation('run-v1', V1, [
    [
      ['keep-1', 'complied'],
      ['change-1', 'violated'],
    ],
    [['retire-1', 'violated']],
    [['keep-1', 'complied']],
  ]);
  const after = evaluation('run-v2', V2, [
    [
      ['keep-2', 'complied'],
      ['change-2', 'complied'],
      ['new-2', 'violated'],
    ],
  ]);
  return {
    format: 'specalign-project',
    formatVersion: 1,
    schemaVersion: 4,
    exportedAt: new Date(now).toISOString(),
    project: {
      id: 'p',
      name: 'Versions eval',
      createdAt: now,
      updatedAt: now,
      defaultModel: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'target' },
    },
    tables: {
      specVersions: [version('v1', 1), version('v2', 2)],
      rules: [...V1, ...V2],
      runs: [before.run, after.run],
      evaluations: [before.evaluation, after.evaluation],
    },
  };
}

test('two evaluations compare on the latest version: kept, changed and new rules, stale items', async ({
  page,
}) => {
  const nav = await openProjectFile(page, projectFile());
  await nav.getByRole('link', { name: 'Evaluate' }).click();

  const compare = page.getByRole('region', { name: 'Compare two evaluations' });
  await compare
    .getByRole('combobox', { name: 'Run A' })
    .selectOption({ label: 'Before update (done)' });
  await compare
    .getByRole('combobox', { name: 'Run B' })
    .selectOption({ label: 'After update (done)' });
  await expect(compare.getByLabel('Score on the rules of')).toHaveValue(/.+/);
  await expect(compare.getByTestId('compare-version-overall')).toHaveText(
    "On v2's rules: RCS A 66.7% (2 of 3 items stale) · B 66.7% (0 of 1 item stale)",
  );
  const groups = compare.getByRole('table', { name: 'RCS by kind of rule on v2' });
  await expect(groups.getByRole('row', { name: /^Kept/ })).toHaveText(
    /Kept\s*1\s*100\.0%\s*100\.0%/,
  );
  await expect(groups.getByRole('row', { name: /^Changed/ })).toHaveText(
    /Changed\s*1\s*0\.0%\s*100\.0%/,
  );
  await expect(groups.getByRole('row', { name: /^New/ })).toHaveText(/New\s*1\s*—\s*0\.0%/);
  await expect(compare.getByRole('img', { name: /RCS per rule of v2/ })).toBeVisible();
  await compare.getByText(/^Per rule \(3\)/).click();
  const perRule = compare.getByRole('table', { name: 'RCS per rule on v2' });
  await expect(perRule.getByRole('row', { name: /Say when unsure, and why\./ })).toContainText(
    'Changed',
  );

  // Each run on its own rules: the plain comparison.
  await compare
    .getByLabel('Score on the rules of')
    .selectOption({ label: "each run's own version" });
  await expect(compare.getByTestId('compare-overall')).toContainText('RCS A 50.0% · B 66.7%');
  await expect(compare.getByTestId('compare-version-overall')).toHaveCount(0);
});
