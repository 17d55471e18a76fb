/**
 * A minimal YAML emitter for dataset-card front matter: block mappings and sequences of strings,
 * numbers, booleans and null. Strings that could be misread (numbers, `true`, `null`, anything
 * with punctuation YAML cares about) are double-quoted with JSON escaping, which is valid YAML.
 */

/** A value the emitter can write. */
export type YamlValue =
  string | number | boolean | null | YamlValue[] | { [key: string]: YamlValue };

const PLAIN = /^[A-Za-z_][A-Za-z0-9_./<>-]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|y|n|~)$/i;

/** One scalar as YAML. */
export function yamlScalar(value: string | number | boolean | null): string {
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : '.nan';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  return PLAIN.test(value) && !RESERVED.test(value) ? value : JSON.stringify(value);
}

function isScalar(value: YamlValue): value is string | number | boolean | null {
  return value === null || typeof value !== 'object';
}

function emitMapping(map: { [key: string]: YamlValue }, indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  for (const [key, value] of Object.entries(map)) {
    const k = yamlScalar(key);
    if (isScalar(value)) out.push(`${pad}${k}: ${yamlScalar(value)}`);
    else if (Array.isArray(value)) {
      if (!value.length) out.push(`${pad}${k}: []`);
      else {
        out.push(`${pad}${k}:`);
        emitSequence(value, indent + 2, out);
      }
    } else if (!Object.keys(value).length) out.push(`${pad}${k}: {}`);
    else {
      out.push(`${pad}${k}:`);
      emitMapping(value, indent + 2, out);
    }
  }
}

function emitSequence(items: YamlValue[], indent: number, out: string[]): void {
  const pad = ' '.repeat(indent);
  for (const item of items) {
    if (isScalar(item)) out.push(`${pad}- ${yamlScalar(item)}`);
    else if (Array.isArray(item)) {
      out.push(`${pad}-`);
      emitSequence(item, indent + 2, out);
    } else {
      // A mapping item: its first key shares the dash line, the rest align under it.
      const inner: string[] = [];
      emitMapping(item, indent + 2, inner);
      if (!inner.length) out.push(`${pad}- {}`);
      inner.forEach((line, i) => out.push(i === 0 ? `${pad}- ${line.slice(indent + 2)}` : line));
    }
  }
}

/** A mapping as a YAML block (no document markers), ending with a newline. */
export function toYaml(map: { [key: string]: YamlValue }): string {
  const out: string[] = [];
  emitMapping(map, 0, out);
  return out.join('\n') + '\n';
}
