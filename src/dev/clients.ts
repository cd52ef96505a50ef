/** The MCP clients `mcp-guard dev config` writes a configuration for (docs/clients.md). */
export const DEV_CLIENTS = ['vscode', 'cursor', 'claude-code', 'claude-desktop', 'inspector'] as const;

export type DevClient = (typeof DEV_CLIENTS)[number];

/** The name the server gets in each client's configuration. */
export const SERVER_NAME = 'mcp-guard';

const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

/**
 * A ready-to-paste configuration of `client` for the MCP endpoint `url` with
 * the bearer `token`: JSON for the clients that read a file (VS Code
 * `.vscode/mcp.json`, Cursor `.cursor/mcp.json`, Claude Code `.mcp.json`,
 * Claude Desktop `claude_desktop_config.json` through `mcp-remote`), a command
 * line for the Inspector CLI.
 */
export function clientConfig(client: DevClient, url: string, token: string): string {
  const headers = { Authorization: `Bearer ${token}` };
  switch (client) {
    case 'vscode':
      return json({ servers: { [SERVER_NAME]: { type: 'http', url, headers } } });
    case 'cursor':
      return json({ mcpServers: { [SERVER_NAME]: { url, headers } } });
    case 'claude-code':
      return json({ mcpServers: { [SERVER_NAME]: { type: 'http', url, headers } } });
    case 'claude-desktop':
      // Claude Desktop starts local (stdio) servers only: mcp-remote bridges to HTTP. The header
      // value goes through an environment variable because arguments with spaces get split.
      return json({
        mcpServers: {
          [SERVER_NAME]: {
            command: 'npx',
            args: ['-y', 'mcp-remote', url, '--header', 'Authorization:${MCP_GUARD_AUTH}'],
            env: { MCP_GUARD_AUTH: `Bearer ${token}` },
          },
        },
      });
    case 'inspector':
      return `npx @modelcontextprotocol/inspector --cli ${url} --transport http --header "Authorization: Bearer ${token}" --method tools/list\n`;
  }
}
