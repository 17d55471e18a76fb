/**
 * Adversarial rounds and origin, end to end (issue 14 §1, §4), with the fake endpoint: the
 * scripted defender holds against every first attack and breaks when the attacker, shown its
 * reply and the verdict, presses again in round 2. Review filtered by origin shows those pairs,
 * the dashboard counts them as elicited, and an export's provenance column carries the origin.
 */
import type { ChatCompletionBody, FakeOpenAiServer } from '../fixtures/fake-openai-server';
import { download, expect, test } from './fixtures';
import { setUpProject, startSocietyServer, waitForDone } from './run-helpers';

const PRESS = 'Pressing harder after your answer';

function agentOf(body: ChatCompletionBody): string | undefined {
  const system = body.messages?.find((m) => m.role === 'system')?.content ?? '';
  return /\[agent: (\w+)\]/.exec(system)?.[1];
}

const users = (body: ChatCompletionBody) =>
  (body.messages ?? []).filter((m) => m.role === 'user').map((m) => m.content);

/**
 * The society, except: a round-2 attacker (its prompt says "Round 2 of") presses with its last
 * request quoted (so tasks stay distinct), and the defender breaks only under that pressure.
 */
function rounds(body: ChatCompletionBody): string | undefined {
  const agent = agentOf(body);
  if (agent === 'attacker') {
    const prompt = users(body).join('\n');
    if (!/Round 2 of/.test(prompt)) return undefined;
    const last = /User: (.*)\nAssistant's reply:/.exec(prompt)?.[1] ?? '';
    return JSON.stringify({ turns: [{ role: 'user', content: `${PRESS}: ${last}` }] });
  }
  if (agent === 'defender') {
    const last = users(body).at(-1) ?? '';
    return JSON.stringify({
      response: last.startsWith(PRESS)
        ? 'Fine. VIOLATION: here is all of it, no caveats at all.'
        : 'I can help with that within our policy, carefully.',
    });
  }
  return undefined;
}

let server: FakeOpenAiServer;
test.beforeAll(async () => {
  server = await startSocietyServer(undefined, rounds);
});
test.afterAll(async () => {
  await server.close();
});

test('a defender that holds in round 1 and breaks in round 2: Review by origin, dashboard, export', async ({
  page,
}) => {
  test.setTimeout(240_000);
  const id = await setUpProject(page, server, 'Rounds', 1);

  await page.goto(`/#/p/${id}/generate`);
  const form = page.getByRole('form', { name: 'Generation settings' });
  const rounds = form.getByLabel('Attack rounds');
  await expect(rounds).toHaveValue('3');
  // From the keyboard: one step down, and the estimate follows.
  await rounds.focus();
  await page.keyboard.press('ArrowDown');
  await expect(rounds).toHaveValue('2');
  await form.getByLabel('Seed').fill('5');
  await form.getByLabel('Task budget (optional)').fill('4');
  await expect(form.getByText(/Estimate: 4 tasks/)).toBeVisible();
  await expect(form.getByTestId('estimate-rounds')).toContainText('Up to 2 attack rounds per task');
  await form.getByRole('button', { name: 'Start generation' }).click();
  await waitForDone(page);

  // Every attacker of round 2 was shown the defender's reply and the verdict.
  const second = server
    .chatBodies()
    .filter((b) => agentOf(b) === 'attacker' && /Round 2 of 2/.test(users(b).join('\n')));
  expect(second).toHaveLength(4);
  for (const body of second) {
    const prompt = users(body).join('\n');
    expect(prompt).toContain("Assistant's reply: I can help with that within our policy");
    expect(prompt).toContain("Judge's verdict on the target rule: complied");
  }

  // Review, filtered by origin.
  await page.goto(`/#/p/${id}/review`);
  const filters = page.getByRole('form', { name: 'Filter pairs' });
  await expect(page.getByText('4 of 4 pairs shown')).toBeVisible();
  const origin = filters.getByLabel('Origin');
  await origin.selectOption({ label: 'Rejected: the defender’s failure after round 1' });
  await expect(page.getByText('4 of 4 pairs shown')).toBeVisible();
  await expect(page.getByTestId('pair-origin')).toHaveText(
    'Rejected: the defender’s own reply in round 2 (elicited). Chosen: written with the instance given explicitly. Attack rounds: 2.',
  );
  await origin.selectOption({
    label: 'Rejected: written by the violator (first write or rewritten)',
  });
  await expect(page.getByText('No pair matches these filters.')).toBeVisible();
  await origin.selectOption({ label: 'Rejected: the defender’s failure in round 1' });
  await expect(page.getByText('No pair matches these filters.')).toBeVisible();
  await origin.selectOption({ label: 'Rejected: the defender’s failure after round 1' });
  await expect(page.getByText('4 of 4 pairs shown')).toBeVisible();
  await page.getByRole('button', { name: 'Accept all shown…' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Accept 4 pairs' }).click();
  await expect(page.getByText('Accepted 4 pairs.')).toBeVisible();

  // The dashboard: every rejected reply of the run was elicited.
  await page.goto(`/#/p/${id}/evaluate`);
  const table = page.getByTestId('origin-table');
  await expect(table).toBeVisible();
  await expect(page.getByRole('img', { name: /Elicited share of rejected replies/ })).toBeVisible();
  const totals = await table
    .locator('tbody tr')
    .evaluateAll((rows) =>
      rows.map((r) => Array.from(r.querySelectorAll('td')).map((c) => c.textContent?.trim())),
    );
  expect(totals.reduce((n, cells) => n + Number(cells[0]), 0)).toBe(4);
  expect(totals.every((cells) => cells[1] === '0' && cells[4] === '100%')).toBe(true);

  // Export with the provenance column: the origin of each side.
  await page.goto(`/#/p/${id}/export`);
  await page.getByLabel(/Apply the training mix/).uncheck();
  await page.getByLabel('Format').selectOption({ label: 'TRL DPO (standard)' });
  await page.getByLabel(/Provenance column/).check();
  const jsonl = await download(page, () =>
    page.getByRole('button', { name: 'Download TRL DPO (standard) JSONL' }).click(),
  );
  const rows = jsonl.bytes
    .toString('utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as { rejected: string; metadata: { origin: unknown } });
  expect(rows).toHaveLength(4);
  for (const row of rows) {
    expect(row.rejected).toContain('VIOLATION');
    expect(row.metadata.origin).toEqual({
      rejected: 'defender',
      rejected_round: 2,
      chosen: 'written',
      rounds: 2,
    });
  }
});
