/**
 * The MCP protocol generations the bridge serves at the same URL: `2025-11-25` (sessions opened by
 * `initialize`) and `2026-07-28` (stateless: every request names its protocol version in
 * `params._meta`). Operators follow adoption by generation (agentbridge_active_agents_by_generation).
 */
export const MCP_GENERATIONS = ['2025-11-25', '2026-07-28'] as const;
export type McpGeneration = (typeof MCP_GENERATIONS)[number];
