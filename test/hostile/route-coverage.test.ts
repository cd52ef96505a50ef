import { join } from 'node:path';
import type { Express } from 'express';
import { createStoreKey } from '../credentials/helpers.js';
import { INITIALIZE, MCP_POST_HEADERS, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { expectSafeRefusal, HOSTILE_AUDIENCE, HOSTILE_JWT_SECRET } from './helpers.js';

/** One route the app registers: its path and the methods it answers (`_all` for every method). */
interface RegisteredRoute {
  path: string;
  methods: string[];
}

interface RouterLayer {
  rawPath?: unknown;
  slash?: boolean;
  route?: { path: unknown; methods: Record<string, boolean> };
  handle: { stack?: RouterLayer[]; length: number };
}

/**
 * Every route in an Express 5 app, read from the router's layers: routes
 * registered with app.get/post/all, the routes of routers mounted with a path
 * (their paths prefixed), and handlers mounted with a path by app.use (they
 * answer every method under that path). Global middleware (mounted at `/`) and
 * error handlers (four parameters) are not routes.
 */
function registeredRoutes(app: Express): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  const walk = (stack: RouterLayer[], prefix: string) => {
    for (const layer of stack) {
      const paths = [layer.route?.path ?? layer.rawPath].flat(Infinity).filter((path): path is string => typeof path === 'string');
      if (layer.route) {
        const methods = Object.keys(layer.route.methods);
        for (const path of paths) routes.push({ path: `${prefix}${path === '/' && prefix ? '' : path}`, methods });
      } else if (layer.handle.stack && !layer.slash) {
        for (const path of paths) walk(layer.handle.stack, `${prefix}${path}`);
      } else if (layer.handle.stack) {
        walk(layer.handle.stack, prefix);
      } else if (!layer.slash && layer.handle.length < 4) {
        for (const path of paths) routes.push({ path: `${prefix}${path}`, methods: ['_all'] });
      }
    }
  };
  walk((app as unknown as { router: { stack: RouterLayer[] } }).router.stack, '');
  return routes;
}

/** Routes anyone may call without a credential, and why. */
const PUBLIC_ROUTES: Record<string, string> = {
  '/health': 'liveness for orchestrators; says nothing but ok',
  '/ready': 'readiness for load balancers; dependency states only',
  '/session': 'development mode only (loopback, no credentials configured): hands out session tokens',
  '/.well-known/oauth-protected-resource': 'RFC 9728 discovery must be public',
  '/.well-known/oauth-protected-resource/mcp': 'RFC 9728 path-aware discovery must be public',
  '/oauth/token': 'authenticates its own client credentials',
  '/.well-known/oauth-authorization-server': 'RFC 8414 metadata of the token endpoint (or of the authorization server) must be public',
};

/** The methods to probe a route with. */
const probeMethods = (route: RegisteredRoute) =>
  route.methods.includes('_all') || route.methods.length > 3 ? ['get', 'post', 'delete', 'put'] : route.methods.filter((m) => m !== 'head');

async function probe(url: string, method: string) {
  const response = await fetch(url, {
    method: method.toUpperCase(),
    headers: MCP_POST_HEADERS,
    ...(method === 'get' || method === 'head' ? {} : { body: JSON.stringify(INITIALIZE) }),
  });
  return { status: response.status, body: await response.text(), challenge: response.headers.get('www-authenticate') };
}

describe.each([
  ['production mode with every credential kind and the token endpoint', 'production'],
  ['development mode (no credentials configured)', 'development'],
])('route coverage in %s', (_name, mode) => {
  let server: TestServer;
  let dir: ReturnType<typeof tempDir>;
  beforeAll(async () => {
    dir = tempDir();
    const storePath = join(dir.dir, 'keys.json');
    await createStoreKey(storePath);
    server = await startTestServer(
      mode === 'production'
        ? {
            MCP_KEY_STORE: storePath,
            MCP_JWT_SECRET: HOSTILE_JWT_SECRET,
            MCP_JWT_AUDIENCE: HOSTILE_AUDIENCE,
            MCP_TOKEN_ENDPOINT: 'true',
            MCP_RATE_LIMIT: '100000',
          }
        : { MCP_AUTH_TOKEN: '', MCP_RATE_LIMIT: '100000' },
    );
  });
  afterAll(async () => {
    await server.stop();
    dir.remove();
  });

  it('finds the routes it knows about', () => {
    const paths = registeredRoutes(server.running.guard.app).map((route) => route.path);
    expect(paths).toEqual(expect.arrayContaining(['/health', '/ready', '/metrics', '/metrics/live', '/mcp']));
    if (mode === 'production') expect(paths).toContain('/oauth/token');
    else expect(paths).toContain('/session');
  });

  it('refuses every non-public route without credentials with 401 and a challenge', async () => {
    const routes = registeredRoutes(server.running.guard.app).filter((route) => !Object.hasOwn(PUBLIC_ROUTES, route.path));
    expect(routes.length).toBeGreaterThan(0);
    const open: string[] = [];
    for (const route of routes) {
      expect(route.path).not.toMatch(/[:*(]/); // a parameterised route needs a sample path here
      for (const method of probeMethods(route)) {
        const response = await probe(`${server.url}${route.path}`, method);
        if (response.status !== 401 || !response.challenge?.startsWith('Bearer'))
          open.push(`${method.toUpperCase()} ${route.path} -> ${response.status}`);
        else expectSafeRefusal(response.status, response.body, { rpc: route.path === '/mcp' });
      }
    }
    expect(open).toEqual([]);
  });

  it('keeps the public allowlist honest: each public route the app has answers without credentials', async () => {
    const routes = registeredRoutes(server.running.guard.app).filter((route) => Object.hasOwn(PUBLIC_ROUTES, route.path));
    for (const route of routes) {
      if (route.path === '/session' || route.path === '/oauth/token') continue; // a stream; a POST with its own client auth
      expect((await fetch(`${server.url}${route.path}`)).status).toBe(200);
    }
  });
});

describe('the route walker', () => {
  it('catches a route added without protection', async () => {
    const { default: express } = await import('express');
    const app = express();
    const nested = express.Router();
    nested.get('/open', (_req, res) => void res.send('ok'));
    app.get('/health', (_req, res) => void res.send('ok'));
    app.use('/admin', nested);
    app.post(['/a', '/b'], (_req, res) => void res.send('ok'));
    app.use('/raw', (_req, res) => void res.send('ok'));
    app.use((_req, _res, next) => next());
    app.use('/raw', (_error: unknown, _req: unknown, res: { end(): void }, _next: unknown) => res.end());
    expect(registeredRoutes(app)).toEqual([
      { path: '/health', methods: ['get'] },
      { path: '/admin/open', methods: ['get'] },
      { path: '/a', methods: ['post'] },
      { path: '/b', methods: ['post'] },
      { path: '/raw', methods: ['_all'] },
    ]);
  });
});
