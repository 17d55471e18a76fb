import { describe, expect, it } from 'vitest';
import { pairOriginVersion, versionFit } from '$lib/core/export/versions';
import type { PreferencePair } from '$lib/core/records';

const instances = new Map([
  ['i1', { specVersionId: 'v1' }],
  ['i2', { specVersionId: 'v2' }],
]);
const pair = (over: Partial<PreferencePair>) =>
  ({
    instanceId: 'i1',
    provenance: {},
    ruleIds: ['r1'],
    lineageIds: ['L1'],
    ...over,
  }) as PreferencePair;

describe('pairOriginVersion', () => {
  it("is the instance's version, else the provenance's, else unknown", () => {
    expect(pairOriginVersion(pair({}), instances)).toBe('v1');
    expect(
      pairOriginVersion(pair({ instanceId: 'x', provenance: { specVersionId: 'v0' } }), instances),
    ).toBe('v0');
    expect(pairOriginVersion(pair({ instanceId: 'x' }), instances)).toBeUndefined();
  });
});

describe('versionFit', () => {
  const fit = versionFit('v2', new Set(['L1', 'L2']), instances);
  it('a pair of the export version fits whatever it cites', () => {
    expect(fit(pair({ instanceId: 'i2', lineageIds: ['L9'] }))).toBe('same');
  });
  it('an earlier pair fits when every lineage it cites carried over, else it is of another version', () => {
    expect(fit(pair({ lineageIds: ['L1', 'L2'] }))).toBe('carried');
    expect(fit(pair({ lineageIds: ['L1', 'L3'] }))).toBe('other');
  });
  it('reads rule ids as lineages for pairs written before lineages, and keeps unknown origins', () => {
    expect(fit(pair({ lineageIds: undefined, ruleIds: ['L2'] }))).toBe('carried');
    expect(fit(pair({ lineageIds: [], ruleIds: ['r-old'] }))).toBe('other');
    expect(fit(pair({ instanceId: 'x' }))).toBe('unknown');
  });
});
