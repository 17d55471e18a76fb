import { describe, expect, it } from 'vitest';
import {
  HEADROOM_INTERVALS,
  MIN_HEADROOM_BYTES,
  requiredHeadroom,
  storageShortfall,
} from '$lib/core/storage-headroom';

const GB = 1_000_000_000;

describe('requiredHeadroom', () => {
  it('is the minimum for a slow writer and grows with the recent write rate', () => {
    expect(requiredHeadroom(0)).toBe(MIN_HEADROOM_BYTES);
    expect(requiredHeadroom(-5)).toBe(MIN_HEADROOM_BYTES);
    expect(requiredHeadroom(40_000_000)).toBe(HEADROOM_INTERVALS * 40_000_000);
  });
});

describe('storageShortfall', () => {
  it('says nothing with room to spare or when the browser gives no quota', () => {
    expect(storageShortfall({ usageBytes: 1, quotaBytes: GB })).toBeUndefined();
    expect(storageShortfall({ usageBytes: GB, quotaBytes: 0 })).toBeUndefined();
  });

  it('explains what is full, how much to free and what to delete', () => {
    const message = storageShortfall({ usageBytes: GB - 20_000_000, quotaBytes: GB });
    expect(message).toMatch(/storage is almost full/);
    expect(message).toMatch(/only 20 MB more/);
    expect(message).toMatch(/at least 50 MB free/);
    expect(message).toMatch(/Free 30 MB or more: delete cached models \(Models screen\)/);
  });

  it('asks for more room when the run writes fast', () => {
    // 100 MB free is plenty for a slow run, not for one that wrote 30 MB since the last check.
    const now = { usageBytes: GB - 100_000_000, quotaBytes: GB };
    expect(storageShortfall(now, { usageBytes: now.usageBytes - 1_000, quotaBytes: GB })).toBe(
      undefined,
    );
    const fast = storageShortfall(now, { usageBytes: now.usageBytes - 30_000_000, quotaBytes: GB });
    expect(fast).toMatch(/at least 150 MB free/);
  });
});
