#!/usr/bin/env node
// Browser tests need a real Chromium. Never skip them silently: find one, install Debian's
// package when we are root, or stop with exact instructions.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
const found = () => candidates.find((p) => p && existsSync(p));

if (found()) {
  console.log(`Chromium for browser tests: ${found()}`);
  process.exit(0);
}
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (isRoot && existsSync('/usr/bin/apt-get')) {
  console.log('No Chromium found; installing Debian package "chromium" with apt-get…');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', 'chromium', 'fonts-dejavu-core'], {
    stdio: 'inherit',
    env,
  });
  if (found()) process.exit(0);
}
console.error(
  [
    'Browser tests need Chromium and none was found.',
    'Install it, then run `npm test` again:',
    '  Debian/Ubuntu:  sudo apt-get install -y chromium',
    '  Fedora:         sudo dnf install -y chromium',
    '  macOS:          brew install --cask chromium',
    'or point CHROMIUM_PATH at an existing Chromium/Chrome binary.',
  ].join('\n'),
);
process.exit(1);
