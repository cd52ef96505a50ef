# syntax=docker/dockerfile:1
# mcp-guard reference server. Build: docker build -t mcp-guard .
# Run:   docker run -p 3000:3000 -e MCP_AUTH_TOKEN_FILE=/run/secrets/mcp_token ... mcp-guard
# Inside the container the server binds 0.0.0.0, which mcp-guard only accepts when a credential
# is configured (MCP_AUTH_TOKEN, MCP_API_KEYS, ... or their _FILE forms): without one it refuses to start.
# Port: MCP_PORT, else PORT (set by platforms such as Cloud Run or Heroku), else 3000.
# test/docker/dockerfile.test.ts runs the HEALTHCHECK command below against a server with a Host allowlist.

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production \
    MCP_HOST=0.0.0.0 \
    MCP_AUDIT_DIR=/var/lib/mcp-guard/audit
WORKDIR /app
COPY --from=build --chown=root:root /app/package.json ./
COPY --from=build --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
RUN mkdir -p /var/lib/mcp-guard/audit && chown -R node:node /var/lib/mcp-guard && chmod 700 /var/lib/mcp-guard/audit
USER node
VOLUME ["/var/lib/mcp-guard/audit"]
EXPOSE 3000
# A GET without Origin, Referer, cookies or browser fetch metadata passes the Host allowlist on
# /health and /ready (docs/configuration.md, "Health probes"); node:http sends none of them.
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('node:http').get({host:'127.0.0.1',port:process.env.MCP_PORT||process.env.PORT||3000,path:'/health'},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).setTimeout(2500,()=>process.exit(1))"]
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
