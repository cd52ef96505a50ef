import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { mapIdentity, parseIdentityMap } from '../../src/auth-server/identity-map.js';
import { readSigningKeys } from '../../src/auth-server/keys.js';
import { loadConfig } from '../../src/config/load.js';
import { BUILT_IN_ROLES } from '../../src/core/permissions.js';
import { createSilentLogger } from '../../src/logging/logger.js';
import { docExamples } from '../docs/examples.js';
import { tempDir } from '../helpers/server.js';

const DOC = 'docs/credentials.md';
const example = (name: string) => {
  const found = docExamples(DOC).find((candidate) => candidate.name === name);
  if (!found) throw new Error(`${DOC} has no example ${name}`);
  return found.code;
};
const KEYS_PATH = '/etc/mcp-guard/signing-keys.json';

describe('docs/credentials.md, "Sign-in for interactive clients"', () => {
  const dir = tempDir('mcpg-authz-docs-');
  const keysFile = join(dir.dir, 'signing-keys.json');
  afterAll(() => dir.remove());
  const sh = (name: string) => {
    const result = spawnSync('sh', ['-c', example(name).replaceAll(KEYS_PATH, keysFile)], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  };

  it('makes a signing key the server accepts, then a second one, promotes it and retires the first', () => {
    sh('authz-keygen');
    expect(statSync(keysFile).mode & 0o777).toBe(0o600);
    const [first] = readSigningKeys(keysFile).privateJwks;
    sh('authz-keygen');
    const appended = readSigningKeys(keysFile).privateJwks.map((key) => key.kid);
    expect(appended).toHaveLength(2);
    expect(appended[0]).toBe(first!.kid);
    sh('authz-rotate-promote');
    const promoted = readSigningKeys(keysFile).privateJwks.map((key) => key.kid);
    expect(promoted).toEqual([appended[1], appended[0]]);
    sh('authz-rotate-retire');
    expect(readSigningKeys(keysFile).privateJwks.map((key) => key.kid)).toEqual([appended[1]]);
  });

  it('has an identity mapping that parses and maps a Workspace account and the named admin', () => {
    const problems: string[] = [];
    const map = parseIdentityMap(example('authz-identity'), (role) => Object.hasOwn(BUILT_IN_ROLES, role), problems);
    expect(problems).toEqual([]);
    const iss = 'https://accounts.google.com';
    expect(mapIdentity({ iss, sub: '1', email: 'ops-lead@example.com', email_verified: true, hd: 'example.com' }, map!)).toMatchObject({
      ok: true,
      role: 'admin',
      tenant: 'example',
    });
    expect(mapIdentity({ iss, sub: '2', email: 'dev@example.com', email_verified: true, hd: 'example.com' }, map!)).toMatchObject({
      ok: true,
      role: 'operator',
    });
    expect(mapIdentity({ iss, sub: '3', email: 'someone@gmail.com', email_verified: true }, map!).ok).toBe(false);
  });

  it('configures a server that starts and serves its metadata at the documented URL, and VS Code points at its endpoint', async () => {
    const env: Record<string, string> = {};
    for (const line of example('authz-env').split('\n')) {
      const eq = line.indexOf('=');
      if (eq > 0) env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    if (!readSigningKeys(keysFile)) sh('authz-keygen');
    const identityFile = join(dir.dir, 'identity.json');
    writeFileSync(identityFile, example('authz-identity'));
    const secretFile = join(dir.dir, 'google-client-secret');
    writeFileSync(secretFile, 'a-client-secret\n');
    const config = loadConfig({
      ...env,
      MCP_AUTH_SERVER_KEYS_FILE: keysFile,
      MCP_AUTH_SERVER_IDENTITY_FILE: identityFile,
      MCP_AUTH_SERVER_UPSTREAM_CLIENT_SECRET_FILE: secretFile,
      MCP_AUDIT_DIR: join(dir.dir, 'audit'),
    });
    expect(config.authServer).toMatchObject({ enabled: true, issuer: env.MCP_PUBLIC_URL, upstream: { clientSecret: 'a-client-secret' } });
    const guard = await createApp(config, { logger: createSilentLogger() });
    try {
      const host = new URL(env.MCP_PUBLIC_URL!).host;
      const metadata = await request(guard.app).get('/.well-known/oauth-authorization-server').set('Host', host);
      expect(metadata.status).toBe(200);
      expect(metadata.body).toMatchObject({ issuer: env.MCP_PUBLIC_URL, authorization_endpoint: `${env.MCP_PUBLIC_URL}/auth/authorize` });
      const prm = await request(guard.app).get('/.well-known/oauth-protected-resource/mcp').set('Host', host);
      expect(prm.body.authorization_servers).toEqual([env.MCP_PUBLIC_URL]);
      const vscode = JSON.parse(example('authz-vscode')) as { servers: Record<string, { type: string; url: string }> };
      expect(vscode.servers['mcp-guard']).toEqual({ type: 'http', url: prm.body.resource });
    } finally {
      await guard.shutdown(1000);
    }
  });

  it('documents in .env.example every variable it reads', () => {
    const text = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    for (const name of Object.keys(
      example('authz-env')
        .split('\n')
        .reduce((acc, line) => ({ ...acc, [line.split('=')[0]!]: 1 }), {}),
    ))
      expect(text.includes(`\n${name}=`) || text.includes(`\n${name.replace(/_FILE$/, '')}=`)).toBe(true);
  });
});
