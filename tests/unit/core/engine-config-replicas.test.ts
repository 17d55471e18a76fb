import { describe, expect, it } from 'vitest';
import {
  engineKey,
  MAX_REPLICAS,
  parseReplicaUrls,
  replicaUrls,
  type OpenAiConfig,
} from '$lib/core/engine-config';

const base: OpenAiConfig = { kind: 'openai', baseUrl: 'http://gpu:8000/v1', model: 'm' };

describe('endpoint replicas in the config', () => {
  it('reads a stored config without replicas as one replica, with its old engine key', () => {
    expect(replicaUrls(base)).toEqual(['http://gpu:8000/v1']);
    expect(engineKey(base)).toBe('openai:m@http://gpu:8000/v1');
  });

  it('lists every replica, first first, without duplicates; they are part of the engine key', () => {
    const config = { ...base, replicas: ['http://gpu:8001/v1', 'http://gpu:8000/v1'] };
    expect(replicaUrls(config)).toEqual(['http://gpu:8000/v1', 'http://gpu:8001/v1']);
    expect(engineKey(config)).toBe('openai:m@http://gpu:8000/v1,http://gpu:8001/v1');
  });

  it('leaves the price out of the engine key (it changes no request)', () => {
    expect(engineKey({ ...base, price: { inputPerMillion: 1, outputPerMillion: 2 } })).toBe(
      engineKey(base),
    );
  });
});

describe('parseReplicaUrls', () => {
  it('accepts http(s) URLs, trims slashes and skips empty fields', () => {
    expect(parseReplicaUrls([' http://a:1/v1/ ', '', 'https://b/v1'])).toEqual({
      ok: true,
      value: ['http://a:1/v1', 'https://b/v1'],
    });
  });

  it('reports each bad field by its index, duplicates included', () => {
    const r = parseReplicaUrls(['http://a/v1', 'ftp://b', 'http://a/v1/', 'not a url']);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(Object.keys(r.errors).map(Number)).toEqual([1, 2, 3]);
    expect(r.errors[1]).toMatch(/"ftp:\/\/b" is not an http\(s\) URL/);
    expect(r.errors[2]).toBe('This URL is already replica 1.');
    expect(r.errors[3]).toMatch(/"not a url" is not an http\(s\) URL/);
  });

  it('needs at least one URL, and at most the maximum', () => {
    const none = parseReplicaUrls(['', ' ']);
    expect(none.ok).toBe(false);
    if (!none.ok) expect(none.errors[0]).toMatch(/Enter the endpoint’s base URL/);
    const many = Array.from({ length: MAX_REPLICAS + 1 }, (_, i) => `http://h:${8000 + i}/v1`);
    const tooMany = parseReplicaUrls(many);
    expect(tooMany.ok).toBe(false);
    if (!tooMany.ok) expect(tooMany.errors[MAX_REPLICAS]).toMatch(/At most 16 replicas/);
  });
});
