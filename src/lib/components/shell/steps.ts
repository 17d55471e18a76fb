import type { Step } from '$lib/state/router.svelte';
import type { ProjectSummary } from '$lib/db/queries';

export interface StepInfo {
  label: string;
  /** What the step does, for its empty state. */
  purpose: string;
  /** What it needs first, or undefined when it is ready. */
  needs: (s: ProjectSummary) => { text: string; step: Step } | undefined;
}

const needSpec = (s: ProjectSummary) =>
  s.specVersions === 0
    ? { text: 'Add a spec on the Spec step first.', step: 'spec' as const }
    : undefined;
const needRules = (s: ProjectSummary) =>
  needSpec(s) ??
  (s.acceptedRules === 0
    ? {
        text: 'Annotate the spec and accept some rules on the Rules step first.',
        step: 'rules' as const,
      }
    : undefined);
const needModel = (s: ProjectSummary) =>
  s.hasModel
    ? undefined
    : { text: 'Choose a model on the Models step first.', step: 'models' as const };

export const STEP_INFO: Record<Step, StepInfo> = {
  spec: {
    label: 'Spec',
    purpose:
      'Paste or drop your policy document (Markdown, text, HTML, PDF or DOCX). It is split into sections with stable anchors, and worked examples are kept. Importing a new version shows what changed.',
    needs: () => undefined,
  },
  rules: {
    label: 'Rules',
    purpose:
      'A model reads the spec section by section and proposes atomic, testable rules (direction, stage, domain, priority, exceptions, source quote). You review them: accept, edit, merge, split, add or reject.',
    needs: (s) => needSpec(s) ?? needModel(s),
  },
  instances: {
    label: 'Instances',
    purpose:
      'Samples smaller spec instances of 8–13 accepted rules that cover stages, balance directions and diversify families, resolves conflicts by priority, and renders each as a system prompt.',
    needs: needRules,
  },
  generate: {
    label: 'Generate',
    purpose:
      'Planner, attacker, defender and judges probe each rule’s boundary and produce judged preference pairs: a prompt, a compliant answer and a violating one. Runs are resumable.',
    needs: (s) =>
      needRules(s) ??
      (s.instances === 0
        ? { text: 'Create spec instances on the Instances step first.', step: 'instances' as const }
        : needModel(s)),
  },
  review: {
    label: 'Review',
    purpose:
      'Browse, filter and edit the generated pairs side by side with the rule and the judges’ rationale; accept, reject or flag them.',
    needs: (s) =>
      s.pairs === 0
        ? { text: 'Generate pairs on the Generate step first.', step: 'generate' }
        : undefined,
  },
  export: {
    label: 'Export',
    purpose:
      'Download the pairs as TRL DPO, OpenAI preference, SFT or KTO JSONL, or as a Hugging Face-style dataset with splits and a dataset card; also the rules and an eval set.',
    needs: (s) =>
      s.pairs === 0
        ? { text: 'Generate pairs on the Generate step first.', step: 'generate' }
        : undefined,
  },
  evaluate: {
    label: 'Evaluate',
    purpose:
      'Measures a target model’s Rule Compliance Score on held-out queries, per rule, family and stage, with its over-refusal rate, and calibrates the judge on the spec’s own GOOD/BAD examples.',
    needs: needRules,
  },
  models: {
    label: 'Models',
    purpose:
      'Choose where models run: WebGPU (web-llm), the CPU (llama.cpp in WebAssembly), or an OpenAI-compatible endpoint you run yourself — one for every role, or one per role.',
    needs: () => undefined,
  },
};
