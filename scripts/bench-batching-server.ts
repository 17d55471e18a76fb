/**
 * The fake OpenAI server in batching mode, playing the synthesis society, in its own process (as
 * a GPU server would be): `bench-throughput.ts` starts it so that the server's work does not
 * compete with the app's event loop. Prints its base URL on the first line; stops on SIGTERM.
 */
import { startFakeOpenAiServer } from '../tests/fixtures/fake-openai-server';
import { societyScript } from '../tests/fixtures/synthesis-society';

const server = await startFakeOpenAiServer({
  batching: {
    baseMs: Number(process.env.BENCH_BASE_MS ?? 200),
    slope: Number(process.env.BENCH_SLOPE ?? 0.005),
    capacity: Number(process.env.BENCH_CAPACITY ?? 32),
  },
  script: (body) => societyScript(body),
});
console.log(server.url);
process.on('SIGTERM', () => {
  void server.close().then(() => process.exit(0));
});
