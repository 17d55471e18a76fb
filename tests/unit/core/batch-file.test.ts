import { describe, expect, it } from 'vitest';
import {
  buildRequestLine,
  decodeCustomId,
  describeProblem,
  encodeCustomId,
  parseBatchOutput,
  requestFingerprint,
  type BatchLineId,
} from '$lib/core/batch-file';
import { repairProblemOf } from '$lib/core/json-call';

const RUN = '3f2c9a1e-8b7d-4c6e-9f10-2a3b4c5d6e7f';
const id = (order: number, role: BatchLineId['role'] = 'target'): BatchLineId => ({
  runId: RUN,
  order,
  role,
  fingerprint: requestFingerprint({ messages: [{ role: 'user', content: `q${order}` }] }),
});

const completion = (content: string) => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 10, completion_tokens: 3 },
});

/** An output line as `vllm run-batch` and OpenAI write them. */
function outputLine(
  customId: string,
  body: unknown = completion('{"response":"hi"}'),
  status = 200,
) {
  return JSON.stringify({
    id: `batch_req_${customId.slice(-4)}`,
    custom_id: customId,
    response: { status_code: status, request_id: 'req_1', body },
    error: null,
  });
}

describe('custom ids', () => {
  it('round-trip run, task, role and fingerprint within 64 characters', () => {
    for (const role of ['annotator', 'target', 'safetyJudge'] as const) {
      const value = { ...id(123_456, role) };
      const encoded = encodeCustomId(value);
      expect(encoded.length).toBeLessThanOrEqual(64);
      expect(decodeCustomId(encoded)).toEqual(value);
    }
  });

  it('refuse ids this app did not write', () => {
    for (const bad of [
      'request-1',
      'sa1.run.1.x.0123abcd',
      'sa2.run.1.t.0123abcd',
      'sa1.run.1.t.XYZ',
      'sa1..1.t.0123abcd',
    ])
      expect(decodeCustomId(bad)).toBeUndefined();
  });

  it('fingerprints differ when anything the model sees differs', () => {
    const base = { messages: [{ role: 'user' as const, content: 'q' }], seed: 1 };
    const same = requestFingerprint(base);
    expect(requestFingerprint({ ...base })).toBe(same);
    expect(requestFingerprint({ ...base, seed: 2 })).not.toBe(same);
    expect(requestFingerprint({ ...base, jsonSchema: { type: 'object' } })).not.toBe(same);
    expect(requestFingerprint({ ...base, messages: [{ role: 'user', content: 'q2' }] })).not.toBe(
      same,
    );
  });

  it('a request line is the Batch API input shape with the body as given', () => {
    const body = { model: 'm', messages: [], stream: false };
    expect(JSON.parse(buildRequestLine(id(1), body))).toEqual({
      custom_id: encodeCustomId(id(1)),
      method: 'POST',
      url: '/v1/chat/completions',
      body,
    });
  });
});

describe('parseBatchOutput', () => {
  it('accepts good lines with CRLF ends, blank lines and a byte-order mark', () => {
    const a = encodeCustomId(id(0));
    const b = encodeCustomId(id(1));
    const parsed = parseBatchOutput(`\uFEFF${outputLine(a)}\r\n\r\n${outputLine(b)}\r\n`, RUN);
    expect(parsed.problems).toEqual([]);
    expect(parsed.lines).toBe(2);
    expect(parsed.entries.map((e) => [e.line, e.id.order])).toEqual([
      [1, 0],
      [3, 1],
    ]);
    expect(parsed.entries[0]?.completion).toEqual(completion('{"response":"hi"}'));
  });

  it('reports every malformed line with its number and reason', () => {
    const ok = encodeCustomId(id(0));
    const lines = [
      outputLine(ok),
      '{"custom_id": ',
      '[1, 2]',
      JSON.stringify({ response: {} }),
      outputLine('request-7'),
      outputLine(encodeCustomId({ ...id(2), runId: 'other-run' })),
      outputLine(ok),
      JSON.stringify({
        custom_id: encodeCustomId(id(3)),
        response: null,
        error: {
          code: 'batch_expired',
          message: 'This request could not be executed before the completion window expired.',
        },
      }),
      outputLine(encodeCustomId(id(4)), { error: { message: 'Internal server error' } }, 500),
      JSON.stringify({ custom_id: encodeCustomId(id(5)), error: null }),
      JSON.stringify({
        custom_id: encodeCustomId(id(6)),
        response: { body: completion('x') },
        error: null,
      }),
      outputLine(encodeCustomId(id(7)), { object: 'chat.completion', choices: [] }),
      outputLine(encodeCustomId(id(8))).slice(0, 50),
    ];
    const parsed = parseBatchOutput(lines.join('\n'), RUN);
    expect(parsed.entries.map((e) => e.line)).toEqual([1]);
    expect(parsed.problems.map(describeProblem)).toEqual([
      expect.stringMatching(/^line 2: not valid JSON \(/),
      'line 3: not a JSON object',
      'line 4: no "custom_id"',
      'line 5: "request-7" is not a request id this app wrote',
      'line 6: belongs to another run (other-run): this file was exported from a different run',
      'line 7 (task 1): duplicate custom_id (first on line 1)',
      'line 8 (task 4): the batch reported an error: batch_expired: This request could not be executed before the completion window expired.',
      'line 9 (task 5): the request failed with HTTP 500: Internal server error',
      'line 10 (task 6): no "response" object',
      'line 11 (task 7): the response has no "status_code"',
      'line 12 (task 8): the response body holds no chat completion ("choices")',
      'line 13: the line is cut short (the file ends in the middle of it: was the download complete?)',
    ]);
  });

  it('a broken last line that ends with a newline is bad JSON, not a truncation', () => {
    const parsed = parseBatchOutput('{"custom_id": \n', RUN);
    expect(parsed.problems[0]?.message).toMatch(/^not valid JSON/);
  });

  it('an empty file is one problem', () => {
    for (const text of ['', '\n\r\n  \n']) {
      const parsed = parseBatchOutput(text, RUN);
      expect(parsed.entries).toEqual([]);
      expect(parsed.problems.map(describeProblem)).toEqual(['file: the file is empty']);
    }
  });
});

describe('repairProblemOf', () => {
  it('reads the problem of a repair request and nothing else', () => {
    expect(
      repairProblemOf({
        messages: [
          { role: 'user', content: 'q' },
          { role: 'assistant', content: 'nope' },
          {
            role: 'user',
            content:
              'That reply was not usable: it is not JSON: no JSON object in the reply. Reply again with only a JSON value that matches the schema.',
          },
        ],
      }),
    ).toBe('it is not JSON: no JSON object in the reply');
    expect(repairProblemOf({ messages: [{ role: 'user', content: 'q' }] })).toBeUndefined();
  });
});
