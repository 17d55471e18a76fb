/**
 * Plays `vllm run-batch` (and a provider's batch API) for the batch-file e2e tests: every line of
 * an OpenAI Batch API input file is sent, as it is, to a chat-completions server (the fake
 * endpoint), and the replies are written as the output file — one
 * `{id, custom_id, response: {status_code, request_id, body}, error}` line per request, the shape
 * vLLM's `run_batch` and OpenAI write. Node side only; it talks to 127.0.0.1 alone.
 */

interface InputLine {
  custom_id: string;
  method: string;
  url: string;
  body: Record<string, unknown>;
}

/** One output line per input line, in input order (a request that fails keeps its status). */
export async function runBatchFile(input: string, baseUrl: string): Promise<string> {
  const origin = new URL(baseUrl).origin;
  const lines = input
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => JSON.parse(l) as InputLine);
  const out: string[] = [];
  for (const [i, line] of lines.entries()) {
    if (line.method !== 'POST' || line.url !== '/v1/chat/completions')
      throw new Error(`line ${i + 1}: unexpected ${line.method} ${line.url}`);
    const response = await fetch(`${origin}${line.url}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(line.body),
    });
    const body: unknown = await response.json();
    out.push(
      JSON.stringify({
        id: `vllm-${i}`,
        custom_id: line.custom_id,
        response: { status_code: response.status, request_id: `vllm-batch-${i}`, body },
        error: null,
      }),
    );
  }
  return out.join('\n') + '\n';
}

/** The `custom_id`s of an input file, in order. */
export function customIds(input: string): string[] {
  return input
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as InputLine).custom_id);
}
