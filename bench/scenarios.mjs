// Scenarios that depend on optional capabilities (JWT, Redis). Each returns [] when unavailable.
export function extraScenarios({ GUARD_ENV }) {
  const scenarios = [];
  const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  scenarios.push({
    id: 'redis',
    label: '(7) full stack, bearer, Redis store',
    env: { REDIS_URL: redisUrl, MCP_REDIS_PREFIX: `bench-${process.pid}:` },
    headers: { authorization: `Bearer ${GUARD_ENV.MCP_AUTH_TOKEN}` },
  });
  return scenarios;
}
