/**
 * What a new user saw (issue 10 §8): long unbroken model strings must not widen the Rules or
 * Review pages or overflow the pair card; a chosen reply with markup is flagged in Review and in
 * the export summary; a hand-written rule without a quote reads "Written by hand".
 */
import type { Page } from '@playwright/test';
import { expect, test } from './fixtures';
import { openProjectFile, projectFileOf } from './harness/project-file';

const LONG = `https://example.org/${'a1b2c3d4'.repeat(250)}`; // 2,020 characters, no break
const SPEC = `# Policy {#policy}\n\n## Privacy {#privacy}\n\nThe assistant must never reveal personal data.\n`;
const SYSTEM = 'You are a support assistant. Never reveal personal data.';

function projectFile() {
  const now = 1_700_000_000_000;
  const heading = SPEC.indexOf('## Privacy');
  const body = SPEC.indexOf('The assistant');
  const quote = 'must never reveal personal data';
  const rule = (id: string, statement: string, extra: object = {}) => ({
    id,
    projectId: 'p',
    specVersionId: 'v',
    sectionAnchor: 'privacy',
    statement,
    direction: 'negative',
    stage: 'content',
    domain: 'support',
    family: LONG.slice(0, 300),
    priority: 4,
    strength: 'must',
    exceptions: [LONG],
    appliesWhen: [],
    source: {
      quote,
      start: SPEC.indexOf(quote),
      end: SPEC.indexOf(quote) + quote.length,
      located: true,
    },
    status: 'proposed',
    origin: 'model',
    createdAt: now,
    updatedAt: now,
    ...extra,
  });
  const pair = (id: string, chosen: string, i: number) => ({
    id,
    projectId: 'p',
    runId: 'run',
    instanceId: 'inst',
    ruleIds: ['rule-long'],
    caseType: 'violation',
    prompt: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: `Open ${LONG} and tell me the number.` },
    ],
    chosen,
    rejected: `Sure: ${LONG}`,
    status: 'accepted',
    provenance: {},
    createdAt: now + i,
  });
  return projectFileOf(
    'Layout test',
    {
      specVersions: [
        {
          id: 'v',
          projectId: 'p',
          versionNumber: 1,
          title: 'Policy',
          sourceName: 'policy.md',
          sourceType: 'markdown',
          format: 'markdown',
          text: SPEC,
          contentHash: '0'.repeat(64),
          createdAt: now,
        },
      ],
      sections: [
        {
          id: 'v#policy',
          specVersionId: 'v',
          projectId: 'p',
          anchor: 'policy',
          title: 'Policy',
          headingPath: ['Policy'],
          level: 1,
          order: 0,
          start: 0,
          bodyStart: heading,
          end: heading,
        },
        {
          id: 'v#privacy',
          specVersionId: 'v',
          projectId: 'p',
          anchor: 'privacy',
          title: 'Privacy',
          headingPath: ['Policy', 'Privacy'],
          level: 2,
          order: 1,
          parentAnchor: 'policy',
          start: heading,
          bodyStart: body,
          end: SPEC.length,
        },
      ],
      rules: [
        rule('rule-long', `Never reveal ${LONG}`),
        rule('rule-hand', 'Greet every caller politely.', {
          origin: 'manual',
          status: 'accepted',
          exceptions: [],
          family: 'manners',
          source: { quote: '', start: body, end: SPEC.length, located: false },
        }),
      ],
      instances: [
        {
          id: 'inst',
          projectId: 'p',
          specVersionId: 'v',
          seed: 1,
          index: 0,
          ruleIds: ['rule-long'],
          pinned: false,
          systemPrompt: SYSTEM,
          createdAt: now,
        },
      ],
      pairs: [
        pair('pair-0', `I can't open ${LONG} for you.`, 0),
        pair('pair-1', 'Here it is: <img src=x onerror="alert(1)"> done.', 1),
      ],
    },
    { now },
  );
}

/** The page is no wider than the window: nothing pushes it sideways. */
async function expectNoSideways(page: Page) {
  const { scroll, inner } = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
  }));
  expect(scroll).toBeLessThanOrEqual(inner);
}

test('long model strings wrap on Rules and Review, and markup in a chosen reply is flagged', async ({
  page,
}) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  const nav = await openProjectFile(page, projectFile());

  await nav.getByRole('link', { name: 'Rules' }).click();
  await expect(page.getByText(`Never reveal ${LONG.slice(0, 40)}`)).toBeVisible();
  await expectNoSideways(page);
  // The hand-written rule is not a failed quote lookup.
  const hand = page.getByRole('listitem').filter({ hasText: 'Greet every caller politely.' });
  await expect(hand.getByText('Written by hand', { exact: true })).toBeVisible();
  await expect(hand.getByText(/quote not found/)).toHaveCount(0);

  await nav.getByRole('link', { name: 'Review' }).click();
  await expect(page.getByText('2 of 2 pairs shown')).toBeVisible();
  const card = page.getByRole('article');
  await expect(card.getByText(`I can't open ${LONG.slice(0, 30)}`)).toBeVisible();
  await expectNoSideways(page);
  const overflow = await card.evaluate((el) => el.scrollWidth - el.clientWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await expect(card.getByRole('note').filter({ hasText: 'Markup' })).toHaveCount(0);

  // The markup filter finds the flagged pair, whose card shows the badge.
  await page.getByLabel('Markup in chosen reply').check();
  await expect(page.getByText('1 of 2 pairs shown')).toBeVisible();
  await expect(card.getByRole('note').filter({ hasText: 'event-handler attribute' })).toBeVisible();
  await expect(card.locator('img')).toHaveCount(0); // shown as text, never as markup

  // The export summary counts it and offers to leave it out.
  await nav.getByRole('link', { name: 'Export' }).click();
  await expect(page.getByTestId('markup-summary')).toContainText('1 of the selected pairs');
  await expect(
    page.getByLabel('Leave out the 1 pairs with markup in the chosen reply'),
  ).not.toBeChecked();
});
