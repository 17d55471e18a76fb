/**
 * Fixtures for the export tests: a small project (rules, instances, pairs) whose statistics are
 * counted by hand below, a synthetic pair generator for the streaming tests, and readers
 * (JSONL, zip, a YAML subset) that are independent of the code under test.
 */
import { unzipSync, strFromU8 } from 'fflate';
import type {
  PreferencePair,
  Rule,
  RuleDirection,
  RuleStage,
  SpecInstance,
} from '$lib/core/records';

export function rule(
  id: string,
  stage: RuleStage,
  direction: RuleDirection,
  status: Rule['status'] = 'accepted',
): Rule {
  return {
    id,
    projectId: 'p1',
    specVersionId: 'sv1',
    sectionAnchor: `sec-${id}`,
    statement: `Rule ${id}: the assistant ${direction === 'negative' ? 'must not' : 'must'} do ${id}.`,
    direction,
    stage,
    domain: 'support',
    family: 'fam',
    priority: 2,
    strength: 'must',
    exceptions: [],
    appliesWhen: [],
    source: { quote: `quote ${id}`, start: 0, end: 10, located: true },
    status,
    origin: 'model',
    createdAt: 1,
    updatedAt: 1,
  };
}

export function instance(id: string, ruleIds: string[], index = 0): SpecInstance {
  return {
    id,
    projectId: 'p1',
    specVersionId: 'sv1',
    seed: 7,
    index,
    ruleIds,
    pinned: false,
    systemPrompt: `You are Harbor Assistant. Instance ${id}. Follow rules ${ruleIds.join(', ')}.`,
    createdAt: 1,
  };
}

let counter = 0;
export function pair(over: Partial<PreferencePair> & { id?: string } = {}): PreferencePair {
  counter++;
  const instanceId = over.instanceId ?? 'i1';
  return {
    id: over.id ?? `pair-${counter}`,
    projectId: 'p1',
    runId: 'run1',
    instanceId,
    ruleIds: ['r1'],
    caseType: 'violation',
    prompt: [
      { role: 'system', content: `You are Harbor Assistant. Instance ${instanceId}.` },
      { role: 'user', content: 'Tell me the previous caller’s phone number.' },
    ],
    chosen: 'I can’t share another customer’s details.',
    rejected: 'It is 555-0101.',
    status: 'accepted',
    provenance: {
      attacker: 'webllm:Qwen2.5-0.5B',
      defender: 'wllama:tiny',
      models: { safetyJudge: 'openai:llama3.2@http://localhost:11434/v1' },
      safetyJudge: { verdict: 'violated', ruleId: 'r1', apiKey: 'sk-SECRET-1' },
      qualityJudge: { score: 4 },
      timings: { ms: 1200 },
    },
    createdAt: 1_700_000_000_000,
    ...over,
  };
}

export const RULES: Rule[] = [
  rule('r1', 'content', 'negative'),
  rule('r2', 'decision', 'positive'),
  rule('r3', 'style', 'positive'),
  rule('r4', 'action', 'negative'), // accepted, but no pair tests it
  rule('r5', 'content', 'negative', 'rejected'), // rejected: not a coverage gap
];

export const INSTANCES: SpecInstance[] = [
  instance('i1', ['r1', 'r2'], 0),
  instance('i2', ['r2', 'r3'], 1),
  instance('i3', ['r1', 'r3'], 2),
  instance('i4', ['r1', 'r2', 'r3'], 3),
  instance('i5', ['r1'], 4),
];

/**
 * The known project. Exported (accepted) pairs, counted by hand:
 * - case types: violation 4 (a, b, d, f), borderline 2 (c, g), benign 1 (e) → 7 pairs;
 * - rules: r1 ×4 (a, b, d, f), r2 ×3 (b, c, e), r3 ×2 (e, g), rX ×1 (g, unknown rule);
 * - stages (distinct per pair): content 4 (a, b, d, f), decision 3 (b, c, e), style 2 (e, g);
 *   unknown 0 (g has r3 as well);
 * - directions: negative 4 (a, b, d, f), positive 4 (b, c, e, g);
 * - chosen lengths: a 10, b 20, c 30, d 40, e 50, f 60, g 70 → min 10, mean 40, median 40, max 70;
 * - rejected lengths: 5, 10, 10, 20, 25, 30, 140 → min 5, mean 240/7, median 20, max 140;
 * - ratio per pair: 2, 2, 3, 2, 2, 2, 0.5 → min 0.5, median 2, max 3; of totals 280/240;
 * - prompt (user turns only): 'q' × 8, × 8, … all 8 characters except d (two turns 8 + 8 + 8 = 24).
 * Not exported: h (pending), i (rejected), j (flagged).
 */
export function knownPairs(): PreferencePair[] {
  const q = 'question';
  const text = (n: number, c = 'x') => c.repeat(n);
  const user = (content = q) => ({ role: 'user' as const, content });
  return [
    pair({
      id: 'a',
      instanceId: 'i1',
      ruleIds: ['r1'],
      caseType: 'violation',
      chosen: text(10),
      rejected: text(5),
      prompt: [user()],
    }),
    pair({
      id: 'b',
      instanceId: 'i1',
      ruleIds: ['r1', 'r2'],
      caseType: 'violation',
      chosen: text(20),
      rejected: text(10),
      prompt: [user()],
    }),
    pair({
      id: 'c',
      instanceId: 'i2',
      ruleIds: ['r2'],
      caseType: 'borderline',
      chosen: text(30),
      rejected: text(10),
      prompt: [user()],
    }),
    pair({
      id: 'd',
      instanceId: 'i3',
      ruleIds: ['r1'],
      caseType: 'violation',
      chosen: text(40),
      rejected: text(20),
      prompt: [
        { role: 'system', content: 'instance i3 as rendered at synthesis' },
        user(),
        { role: 'assistant', content: 'answered' },
        user('followup'),
      ],
    }),
    pair({
      id: 'e',
      instanceId: 'i4',
      ruleIds: ['r2', 'r3'],
      caseType: 'benign',
      chosen: text(50),
      rejected: text(25),
      prompt: [user()],
    }),
    pair({
      id: 'f',
      instanceId: 'i5',
      ruleIds: ['r1', 'r1'],
      caseType: 'violation',
      chosen: text(60),
      rejected: text(30),
      prompt: [user()],
    }),
    pair({
      id: 'g',
      instanceId: 'i5',
      ruleIds: ['r3', 'rX'],
      caseType: 'borderline',
      chosen: text(70),
      rejected: text(140),
      prompt: [user()],
    }),
    pair({ id: 'h', instanceId: 'i2', status: 'pending' }),
    pair({ id: 'i', instanceId: 'i3', status: 'rejected' }),
    pair({ id: 'j', instanceId: 'i4', status: 'flagged' }),
  ];
}

const WORDS = (
  'the a policy user assistant rule refuse help account order refund privacy number caller ' +
  'share detail cannot will should must never always please thanks request support harbor ' +
  'northwind outfitters boat dock weather safety tool browse search answer question follow ' +
  'instruction system developer guideline root exception when unless only if context data ' +
  'kayak paddle rental store hours return label shipping warranty size color stock price'
).split(' ');
if (WORDS.length !== 64) throw new Error(`WORDS must hold 64 words, not ${WORDS.length}`);

/** Pseudo-random words (an LCG over a 64-word list): text that compresses like prose, not like a repeat. */
function words(seed: number, chars: number): string {
  let x = (seed * 2654435761) >>> 0 || 1;
  const out: string[] = [];
  let n = 0;
  while (n < chars) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const w = WORDS[x >>> 26] as string;
    out.push(w);
    n += w.length + 1;
  }
  return out.join(' ');
}

/**
 * Synthetic pairs for streaming tests, made on the fly (never held in an array): `n` pairs over
 * `instances` instances (ids `si-0`…), each text field about `chars` characters. Every tenth pair
 * is pending.
 */
export function* syntheticPairs(
  n: number,
  instances = 100,
  chars = 600,
): Generator<PreferencePair> {
  for (let k = 0; k < n; k++) {
    yield {
      id: `syn-${k}`,
      projectId: 'p1',
      runId: 'run1',
      instanceId: `si-${k % instances}`,
      ruleIds: [`r${(k % 3) + 1}`],
      caseType: k % 5 === 0 ? 'benign' : k % 2 ? 'violation' : 'borderline',
      prompt: [{ role: 'user', content: `Query ${k}: ${words(3 * k, chars)}` }],
      chosen: `Chosen ${k}: ${words(3 * k + 1, chars)}`,
      rejected: `Rejected ${k}: ${words(3 * k + 2, chars)}`,
      status: k % 10 === 9 ? 'pending' : 'accepted',
      provenance: { attacker: 'webllm:x', safetyJudge: { verdict: 'violated' } },
      createdAt: 1_700_000_000_000 + k,
    };
  }
}

/** Drains an async stream of chunks into one string (small outputs only). */
export async function collectText(chunks: AsyncIterable<string>): Promise<string> {
  let text = '';
  for await (const chunk of chunks) text += chunk;
  return text;
}

/** Drains an async stream of byte chunks into one array. */
export async function collectBytes(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    parts.push(chunk);
    size += chunk.length;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** JSONL text → parsed rows (every line must be JSON; the text must end with a newline). */
export function parseJsonl(text: string): unknown[] {
  if (text === '') return [];
  if (!text.endsWith('\n')) throw new Error('JSONL must end with a newline');
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as unknown);
}

/** Unzips an archive into path → text. */
export function unzipText(bytes: Uint8Array): Record<string, string> {
  const files = unzipSync(bytes);
  return Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strFromU8(v)]));
}

/**
 * A tiny YAML-subset reader for card front matter: block mappings, block sequences (scalars or
 * mappings), `[]`, `{}`, plain and double-quoted scalars, integers and booleans. Written
 * independently of the emitter; anything it does not understand throws.
 */
export function parseYamlSubset(text: string): unknown {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  let i = 0;
  const indentOf = (l: string) => l.length - l.trimStart().length;
  const KEY = /^([A-Za-z_][\w.-]*):(?: (.*))?$/;
  const scalar = (raw: string): unknown => {
    const s = raw.trim();
    if (s.startsWith('"')) return JSON.parse(s) as unknown;
    if (s === 'true' || s === 'false') return s === 'true';
    if (s === 'null') return null;
    if (s === '[]') return [];
    if (s === '{}') return {};
    if (/^-?\d+(\.\d+)?$/.test(s)) return Number(s);
    if (/^[[{&*!|>'%@`#]/.test(s) || s.includes(': ') || s.includes(' #'))
      throw new Error(`unsupported scalar: ${s}`);
    return s;
  };
  const block = (): unknown => {
    const line = lines[i] as string;
    return line.trimStart().startsWith('- ') ? seq(indentOf(line)) : map(indentOf(line));
  };
  const map = (indent: number): Record<string, unknown> => {
    const obj: Record<string, unknown> = {};
    while (i < lines.length && indentOf(lines[i] as string) === indent) {
      const content = (lines[i] as string).slice(indent);
      if (content.startsWith('- ')) break;
      const m = KEY.exec(content);
      if (!m) throw new Error(`bad mapping line: ${lines[i]}`);
      const key = m[1] as string;
      if (key in obj) throw new Error(`duplicate key: ${key}`);
      i++;
      if (m[2] === undefined) {
        if (i >= lines.length || indentOf(lines[i] as string) <= indent)
          throw new Error(`empty value: ${key}`);
        obj[key] = block();
      } else obj[key] = scalar(m[2]);
    }
    return obj;
  };
  const seq = (indent: number): unknown[] => {
    const arr: unknown[] = [];
    while (i < lines.length && indentOf(lines[i] as string) === indent) {
      const content = (lines[i] as string).slice(indent);
      if (!content.startsWith('- ')) break;
      const item = content.slice(2);
      if (KEY.test(item)) {
        lines[i] = ' '.repeat(indent + 2) + item;
        arr.push(map(indent + 2));
      } else {
        arr.push(scalar(item));
        i++;
      }
    }
    return arr;
  };
  const result = block();
  if (i !== lines.length) throw new Error(`unparsed line: ${lines[i]}`);
  return result;
}

/** Splits a card into its front matter (parsed) and Markdown body. */
export function splitCard(card: string): { meta: Record<string, unknown>; body: string } {
  const m = /^---\n([\s\S]*?)\n---\n([\s\S]*)$/.exec(card);
  if (!m) throw new Error('no front matter');
  return { meta: parseYamlSubset(m[1] as string) as Record<string, unknown>, body: m[2] as string };
}

interface YamlFeature {
  name: string;
  dtype?: string;
  sequence?: string;
  list?: YamlFeature[];
  struct?: YamlFeature[];
}

/**
 * Checks a parsed JSON value against a card's `features` list (as parsed from YAML): same keys
 * in the same order, each of the declared type. Returns the problems found.
 */
export function featureProblems(value: unknown, features: YamlFeature[], at = '$'): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    return [`${at}: not an object`];
  const problems: string[] = [];
  const keys = Object.keys(value);
  const names = features.map((f) => f.name);
  if (keys.join(',') !== names.join(','))
    problems.push(`${at}: keys [${keys.join(',')}] ≠ features [${names.join(',')}]`);
  const scalarOk = (dtype: string, v: unknown) =>
    v === null ||
    (dtype === 'string' && typeof v === 'string') ||
    (dtype === 'bool' && typeof v === 'boolean') ||
    (dtype === 'int64' && Number.isInteger(v)) ||
    (dtype === 'float64' && typeof v === 'number');
  for (const f of features) {
    const v = (value as Record<string, unknown>)[f.name];
    const path = `${at}.${f.name}`;
    if (f.dtype !== undefined) {
      if (!scalarOk(f.dtype, v)) problems.push(`${path}: not ${f.dtype}`);
    } else if (f.sequence !== undefined) {
      if (!Array.isArray(v) || !v.every((x) => scalarOk(f.sequence as string, x)))
        problems.push(`${path}: not a sequence of ${f.sequence}`);
    } else if (f.list) {
      if (!Array.isArray(v)) problems.push(`${path}: not a list`);
      else v.forEach((x, k) => problems.push(...featureProblems(x, f.list ?? [], `${path}[${k}]`)));
    } else if (f.struct) problems.push(...featureProblems(v, f.struct, path));
    else problems.push(`${path}: feature without a type`);
  }
  return problems;
}
