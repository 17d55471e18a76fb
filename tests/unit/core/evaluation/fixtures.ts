import type { PreferencePair, Rule, SpecInstance } from '$lib/core/records';

export function makeRule(id: string, over: Partial<Rule> = {}): Rule {
  return {
    id,
    projectId: 'p',
    specVersionId: 'v',
    sectionAnchor: 'privacy',
    statement: `Statement of ${id}.`,
    direction: 'negative',
    stage: 'content',
    domain: 'support',
    family: 'privacy',
    priority: 4,
    strength: 'must',
    exceptions: [],
    appliesWhen: [],
    source: { quote: 'q', start: 0, end: 1, located: true },
    status: 'accepted',
    origin: 'model',
    createdAt: 0,
    updatedAt: 0,
    ...over,
  };
}

export function makeInstance(
  id: string,
  ruleIds: string[],
  systemPrompt = `System of ${id}`,
): SpecInstance {
  return {
    id,
    projectId: 'p',
    specVersionId: 'v',
    seed: 1,
    index: 0,
    ruleIds,
    pinned: false,
    systemPrompt,
    createdAt: 0,
  };
}

let n = 0;
export function makePair(over: Partial<PreferencePair> & { query: string }): PreferencePair {
  const { query, ...rest } = over;
  n++;
  return {
    id: `pair-${n}`,
    projectId: 'p',
    runId: 'run',
    instanceId: 'i1',
    ruleIds: ['r1'],
    caseType: 'violation',
    prompt: [{ role: 'user', content: query }],
    chosen: 'ok',
    rejected: 'bad',
    status: 'accepted',
    provenance: {},
    createdAt: n,
    ...rest,
  };
}
