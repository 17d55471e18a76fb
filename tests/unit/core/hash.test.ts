import { describe, expect, it } from 'vitest';
import { fnv1a32, fnv1aHex, hashString, mulberry32, unitHash } from '$lib/core/hash';
import { subSeed } from '$lib/core/instances/random';

/**
 * Golden values recorded from the three copies this module replaced (export/hash.ts,
 * instances/random.ts, rules/chunking.ts's fnv1a) before they were merged. If one of these
 * moves, every user's seeds, train/test splits, SFT picks and chunk keys move with it.
 */
const INPUTS = ['', 'a', 'instance-3', 'héllo wörld ✓', 'pair:0001', '42\u0000test'];

describe('core/hash', () => {
  it('hashString gives the values the old export and instance copies gave', () => {
    expect(INPUTS.map(hashString)).toEqual([
      2872998923, 444641715, 235694926, 347505372, 3308758611, 2280808717,
    ]);
  });

  it('fnv1aHex gives the chunk keys the old chunking copy gave', () => {
    expect(INPUTS.map(fnv1aHex)).toEqual([
      '811c9dc5',
      'e40c292c',
      'fc923dba',
      '68c5fa93',
      'b5e5c96e',
      'b357edd1',
    ]);
    expect(fnv1a32('a')).toBe(0xe40c292c);
  });

  it('unitHash and subSeed keep their splits and seeds', () => {
    expect(INPUTS.map((s) => unitHash(7, s))).toEqual([
      0.09864641213789582, 0.3615763431880623, 0.12222027801908553, 0.363211004761979,
      0.395237997174263, 0.06421986501663923,
    ]);
    expect(INPUTS.map((s) => unitHash('seed', s))).toEqual([
      0.04659601883031428, 0.7265440095216036, 0.2955979029648006, 0.5362612288445234,
      0.5732939166482538, 0.4256927818059921,
    ]);
    expect([subSeed(1, 'instance', 3), subSeed(0xffffffff, 'a'), subSeed(42)]).toEqual([
      3554757760, 3792441490, 1898148008,
    ]);
  });

  it('mulberry32 draws the same stream the old seededRandom and mulberry32 drew', () => {
    const random = mulberry32(5);
    expect([random(), random(), random()]).toEqual([
      0.6897749109193683, 0.7727432732935995, 0.21976301027461886,
    ]);
  });
});
