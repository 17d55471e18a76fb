/**
 * Spec instantiation (METHOD.md §2): seeded sampling, conflict resolution, rendering.
 */
import type { Rule, SpecInstance } from '../records';
import { lineageOf } from '../rules/lineage';
import type { InstanceDraft } from './sample';
import { renderInstancePrompt, type RenderedInstance, type RenderOptions } from './render';

export * from './random';
export * from './stages';
export * from './sample';
export * from './conflicts';
export * from './render';

/** Storage fields the caller supplies when turning a draft into a {@link SpecInstance}. */
export interface InstanceIdentity {
  id: string;
  projectId: string;
  specVersionId: string;
  createdAt: number;
  /** Whether the user pinned this instance (kept when re-sampling); default false. */
  pinned?: boolean;
}

/**
 * Turns a sampled draft into a storable instance with its rendered system prompt. Returns the
 * rendering too (labels, conflicts, token estimate, budget warnings).
 *
 * @throws Error when a rule id of the draft is missing from `rulesById` (the draft was sampled
 *   from another pool).
 */
export function materializeInstance(
  draft: InstanceDraft,
  rulesById: ReadonlyMap<string, Rule>,
  identity: InstanceIdentity,
  options: RenderOptions = {},
): { instance: SpecInstance; rendered: RenderedInstance } {
  const rules = draft.ruleIds.map((id) => {
    const rule = rulesById.get(id);
    if (!rule) throw new Error(`Rule ${id} of instance ${draft.index + 1} no longer exists.`);
    return rule;
  });
  const rendered = renderInstancePrompt(rules, options);
  return {
    instance: {
      id: identity.id,
      projectId: identity.projectId,
      specVersionId: identity.specVersionId,
      seed: draft.seed,
      index: draft.index,
      ruleIds: [...draft.ruleIds],
      lineageIds: rules.map(lineageOf),
      pinned: identity.pinned ?? false,
      systemPrompt: rendered.text,
      createdAt: identity.createdAt,
    },
    rendered,
  };
}
