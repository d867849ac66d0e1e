import type { IncomingMessage } from 'node:http';
import { z } from 'zod';

/**
 * Origin and Host checks of an MCP endpoint (spec, Streamable HTTP: servers must validate the
 * Origin header of every incoming connection, against DNS rebinding). A request without `Origin`
 * (agents are programs, not pages) passes the Origin check; one with an Origin must name an
 * allowed origin. With allowed hosts set, the `Host` header must name one of them too (a rebound
 * name reaches the server with the attacker's host name). Requests relayed by another replica
 * carry the caller's Origin, but their Host is the owning replica's address: the Host check is the
 * front door's, so the caller passes `relayed: true` for them.
 *
 * Patterns: `scheme://host[:port]` exactly, or with port `*` for any port (`http://localhost:*`);
 * hosts as `name[:port]` or `name:*`. Matching ignores case.
 */
export class OriginPolicy {
  private constructor(
    private readonly origins: readonly Pattern[],
    private readonly hosts: readonly Pattern[],
  ) {}

  static fromSettings(settings: { MCP_ALLOWED_ORIGINS: string[]; MCP_ALLOWED_HOSTS: string[] }): OriginPolicy {
    return new OriginPolicy(settings.MCP_ALLOWED_ORIGINS.map(parsePattern), settings.MCP_ALLOWED_HOSTS.map(parsePattern));
  }

  /** Why the request is refused (a sentence for the 403 answer), or undefined when it may go on. */
  refusal(request: IncomingMessage, options: { relayed?: boolean } = {}): string | undefined {
    const origin = request.headers.origin;
    if (origin !== undefined && !this.origins.some((pattern) => pattern.matches(origin.toLowerCase()))) {
      return `Origin ${JSON.stringify(origin)} is not allowed on this MCP endpoint (allowed: ${this.list(this.origins)}). A browser page must be served from an allowed origin; operators add origins to MCP_ALLOWED_ORIGINS.`;
    }
    if (!options.relayed && this.hosts.length > 0) {
      const host = (request.headers.host ?? '').toLowerCase();
      if (!this.hosts.some((pattern) => pattern.matches(host))) {
        return `Host ${JSON.stringify(request.headers.host ?? '')} is not a name of this MCP endpoint (allowed: ${this.list(this.hosts)}). Use the endpoint's published URL; operators add names to MCP_ALLOWED_HOSTS.`;
      }
    }
    return undefined;
  }

  private list(patterns: readonly Pattern[]): string {
    return patterns.length === 0 ? 'none' : patterns.map((pattern) => pattern.text).join(', ');
  }
}

interface Pattern {
  text: string;
  matches(value: string): boolean;
}

function parsePattern(text: string): Pattern {
  const lower = text.toLowerCase();
  if (lower.endsWith(':*')) {
    const base = lower.slice(0, -2);
    return { text, matches: (value) => value === base || (value.startsWith(`${base}:`) && /^\d{1,5}$/.test(value.slice(base.length + 1))) };
  }
  return { text, matches: (value) => value === lower };
}

const ORIGIN_PATTERN = /^https?:\/\/(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:(\d{1,5}|\*))?$/i;
const HOST_PATTERN = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(:(\d{1,5}|\*))?$/i;

/** A comma-separated list setting whose every entry must match `pattern`; `word` alone means the empty list. */
const listOf = (pattern: RegExp, what: string, word: string) =>
  z
    .string()
    .transform((value) =>
      value.trim() === word
        ? []
        : value
            .split(',')
            .map((entry) => entry.trim())
            .filter((entry) => entry !== ''),
    )
    .refine((entries) => entries.every((entry) => pattern.test(entry)), `must be a comma-separated list of ${what}, or ${word}`);

/** Settings of both MCP endpoints (docs/configuration.md). */
export const originSettings = {
  /** Origins a browser page may call the endpoint from (`none`: no page); a request without Origin always passes. */
  MCP_ALLOWED_ORIGINS: listOf(ORIGIN_PATTERN, 'origins such as https://agents.example.com or http://localhost:*', 'none').default(['http://localhost:*', 'http://127.0.0.1:*', 'http://[::1]:*']),
  /** Host names the endpoint answers to; `*` (the default): any. */
  MCP_ALLOWED_HOSTS: listOf(HOST_PATTERN, 'host names such as agents.example.com or localhost:*', '*').default([]),
};
