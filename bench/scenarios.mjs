// Scenarios that need set-up of their own: JWTs (HS256, RS256 with a key file) and the Redis store.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { generateToken } from '../dist/index.js';

export function extraScenarios({ GUARD_ENV, auditDir }) {
  const audience = 'https://bench.invalid/mcp';
  const secret = randomBytes(32).toString('base64url');
  const hs256 = generateToken({ secret, subject: 'bench', role: 'operator', ttlSec: 3600, audience }).token;

  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const publicKeyFile = join(auditDir, 'bench-jwt.pub.pem'); // removed with auditDir at the end
  writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  const rs256 = jwt.sign({ sub: 'bench', role: 'operator', aud: audience }, privateKey, { algorithm: 'RS256', expiresIn: 3600 });

  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  return [
    {
      id: 'jwt-hs256',
      label: '(5) full stack, HS256 JWT',
      env: { MCP_JWT_SECRET: secret, MCP_JWT_AUDIENCE: audience },
      headers: { authorization: `Bearer ${hs256}` },
    },
    {
      id: 'jwt-rs256',
      label: '(6) full stack, RS256 JWT (key file)',
      env: { MCP_JWT_PUBLIC_KEY_FILE: publicKeyFile, MCP_JWT_AUDIENCE: audience },
      headers: { authorization: `Bearer ${rs256}` },
    },
    {
      id: 'redis',
      label: '(7) full stack, bearer, Redis store',
      env: { REDIS_URL: redisUrl, MCP_REDIS_PREFIX: `bench-${process.pid}:` },
      headers: { authorization: `Bearer ${GUARD_ENV.MCP_AUTH_TOKEN}` },
    },
  ];
}
