import { compileExamples, docExamples, freePort, startExample } from './examples.js';
import { connectClient, connectModernClient, TEST_TOKEN } from '../helpers/server.js';

const examples = docExamples('README.md', 'docs/library.md').filter((example) => example.language === 'ts');

describe('the library examples of README.md and docs/library.md', () => {
  let compiled: { code: number | null; output: string };
  beforeAll(async () => {
    compiled = await compileExamples(examples);
  }, 120_000);

  it('exist and type-check under strict, importing the package by its name', () => {
    expect(examples.map((example) => example.name)).toEqual(expect.arrayContaining(['library-server', 'readme-library']));
    expect(compiled.output).toBe('');
    expect(compiled.code).toBe(0);
  });

  it.each(['library-server', 'readme-library'])(
    '%s serves the v1 and v2 SDK clients with the token and refuses them without it',
    async (name) => {
      const port = await freePort();
      const server = await startExample(name, { PORT: String(port), MCP_AUTH_TOKEN: TEST_TOKEN }, /MCP endpoint on/);
      const url = `http://127.0.0.1:${port}/mcp`;
      try {
        const modern = await connectModernClient(url);
        expect(modern.client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
        expect((await modern.client.callTool({ name: 'whoami', arguments: {} })).content).toEqual([{ type: 'text', text: 'token:static' }]);
        await modern.close();
        const legacy = await connectClient(url);
        expect((await legacy.client.listTools()).tools.map((tool) => tool.name)).toEqual(['whoami']);
        await legacy.close();
        await expect(connectModernClient(url, {})).rejects.toThrow();
        await expect(connectClient(url, {})).rejects.toThrow();
      } finally {
        await server.stop();
      }
    },
  );
});
