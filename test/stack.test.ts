import express from 'express';
import { createSecurityStack } from '../src/stack.js';
import { createJsonlAuditLogger } from '../src/audit/jsonl-writer.js';
import { createLogger } from '../src/logging/logger.js';
import { tempDir, TEST_TOKEN } from './helpers/server.js';

/** A logger whose warnings the test reads. */
function recordingLogger() {
  const warned: Array<{ message: string; code?: unknown }> = [];
  const logger = createLogger({ level: 'warn' });
  logger.warn = ((message: string, meta?: { code?: unknown }) => {
    warned.push({ message, code: meta?.code });
    return logger;
  }) as typeof logger.warn;
  return { logger, codes: () => warned.map((warning) => warning.code) };
}

describe('createSecurityStack', () => {
  it('warns once about wildcard CORS, a missing Host allowlist and a missing audit trail, with their codes', () => {
    const { logger, codes } = recordingLogger();
    createSecurityStack({ auth: { token: TEST_TOKEN }, tools: {}, corsOrigins: ['*'], logger });
    expect(codes()).toEqual(['MCPG_CORS_WILDCARD', 'MCPG_NO_HOST_ALLOWLIST', 'MCPG_AUDIT_OFF']);
  });

  it('says nothing about safe options, or with validate: false', () => {
    const files = tempDir();
    const audit = createJsonlAuditLogger({ dir: files.dir });
    const safe = recordingLogger();
    createSecurityStack({ auth: { token: TEST_TOKEN }, tools: {}, allowedHosts: ['localhost'], audit, logger: safe.logger });
    expect(safe.codes()).toEqual([]);
    const off = recordingLogger();
    createSecurityStack({ auth: { token: TEST_TOKEN }, tools: {}, corsOrigins: ['*'], logger: off.logger, validate: false });
    expect(off.codes()).toEqual([]);
    void audit.close().then(() => files.remove());
  });

  it('warns once, at the first request, when the app trusts every proxy hop', async () => {
    const { logger, codes } = recordingLogger();
    const stack = createSecurityStack({ auth: { token: TEST_TOKEN }, tools: {}, allowedHosts: ['127.0.0.1'], logger });
    const app = express().set('trust proxy', true);
    app.all('/mcp', stack, (_req, res) => void res.end());
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`;
    await (await fetch(url)).text();
    await (await fetch(url)).text();
    server.close();
    expect(codes().filter((code) => code === 'MCPG_TRUST_PROXY_ALL')).toHaveLength(1);
  });
});
