/**
 * The backup folder round trip. Playwright cannot drive the native folder picker, so an init
 * script stands `showDirectoryPicker` in with an origin-private directory: the same
 * FileSystemDirectoryHandle interface. A project is backed up there, deleted from the app, and
 * restored from the folder with its spec.
 */
import { createProject, expect, test } from './fixtures';

test('a project backed up to the chosen folder is restored from it after it is gone', async ({
  page,
}) => {
  await page.addInitScript(() => {
    (
      window as unknown as { showDirectoryPicker: () => Promise<FileSystemDirectoryHandle> }
    ).showDirectoryPicker = async () =>
      (await navigator.storage.getDirectory()).getDirectoryHandle('picked-backups', {
        create: true,
      });
  });
  const name = 'Backed up policy';
  await createProject(page, name);
  await page.getByRole('button', { name: 'Try an example' }).click();
  await expect(page.getByText(/Imported version 1/)).toBeVisible();

  await page.goto('/#/');
  await page.getByRole('button', { name: 'Choose backup folder…' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Backing up to' })).toContainText(
    '"picked-backups": 1 project saved now',
  );

  // The project is gone from the browser's database.
  await page.getByRole('button', { name: `Delete ${name}` }).click();
  await page
    .getByRole('dialog')
    .getByRole('button', { name: /Delete/ })
    .click();
  await expect(page.getByRole('link', { name: `Open ${name}` })).toHaveCount(0);

  await page.getByRole('button', { name: 'Restore from backup folder…' }).click();
  const backups = page.getByRole('list', { name: 'Backups' });
  await expect(backups).toContainText(name);
  await backups.getByRole('button', { name: new RegExp(`^Restore ${name}`) }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Spec' })).toBeVisible();
  await expect(page.getByRole('combobox', { name: 'Version' })).toContainText('Harbor Assistant');
  await page.goto('/#/');
  await expect(page.getByRole('link', { name: `Open ${name}` })).toBeVisible();
});
