import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, stringify } from 'yaml';
import type { Document } from 'yaml';
import { z } from 'zod';
import { FlagsError } from './errors.js';
import { parseOrThrow } from './issues.js';
import type { IssuePath } from './issues.js';
import { DEFAULT_FLAGS, flagFieldSchemas, flagSettingsOf, flagSettingsSchema, parseFlagSettings } from './snapshot.js';
import type { FlagSettings } from './snapshot.js';

const mapping = { error: 'expected a mapping' } as const;

/** A section left empty (`compatibility:` with every line commented out) means "all defaults". */
function section<Shape extends z.core.$ZodLooseShape>(shape: Shape) {
  return z.strictObject(shape, mapping).nullish();
}

/**
 * The operator-facing flag file for local mode. It follows the strategy's
 * config/feature_flags.yaml grouping (elicitation / compatibility) with camelCase keys;
 * every key is optional and takes its DEFAULT_FLAGS value when missing.
 */
export const flagFileSchema = z.strictObject(
  {
    elicitation: section({
      enabled: flagFieldSchemas.elicitationEnabled.optional(),
      percentage: flagFieldSchemas.elicitationPercentage.optional(),
      agents: flagFieldSchemas.agentSelectors.optional(),
      excludedAgents: flagFieldSchemas.agentSelectors.optional(),
    }),
    compatibility: section({
      dualMode: flagFieldSchemas.dualMode.optional(),
      autoFallback: flagFieldSchemas.autoFallback.optional(),
      legacyTimeoutMs: flagFieldSchemas.legacyTimeoutMs.optional(),
      elicitationTimeoutMs: flagFieldSchemas.elicitationTimeoutMs.optional(),
    }),
    deprecation: section({
      warnings: flagFieldSchemas.deprecationWarnings.optional(),
      throttleMs: flagFieldSchemas.deprecationThrottleMs.optional(),
    }),
    legacyDisabled: flagFieldSchemas.legacyDisabled.optional(),
  },
  mapping,
);

export type FlagFileContent = z.infer<typeof flagFileSchema>;

export function parseFlagFile(yamlText: string, source: string): FlagSettings {
  const lineCounter = new LineCounter();
  const document = parseDocument(yamlText, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    const issues = document.errors.map((error) => `${source}: ${error.message.trimEnd()}`);
    throw new FlagsError('FLAGS_FILE_SYNTAX', `${source}: not valid YAML:\n  - ${issues.join('\n  - ')}`, {
      cause: document.errors[0],
      issues,
    });
  }
  const content: unknown = document.toJS() ?? {};
  const file = parseOrThrow(flagFileSchema, content, `${source}: invalid flag file`, {
    locate: (path) => `${source}:${lineOf(document, lineCounter, path)}: `,
    hintForUnknownKey: (parentPath, key) => (parentPath.length === 0 && key === 'migration' ? 'this file has no migration: wrapper; put elicitation, compatibility and deprecation at the top level' : undefined),
  });
  return settingsFromFile(file);
}

export function renderFlagFile(settings: FlagSettings): string {
  const valid = parseFlagSettings(flagSettingsOf(settings));
  const file: FlagFileContent = {
    elicitation: {
      enabled: valid.elicitation.enabled,
      percentage: valid.elicitation.percentage,
      agents: valid.elicitation.agents,
      excludedAgents: valid.elicitation.excludedAgents,
    },
    compatibility: {
      dualMode: valid.dualMode,
      autoFallback: valid.autoFallback,
      legacyTimeoutMs: valid.legacyTimeoutMs,
      elicitationTimeoutMs: valid.elicitationTimeoutMs,
    },
    deprecation: {
      warnings: valid.deprecation.warnings,
      throttleMs: valid.deprecation.throttleMs,
    },
    legacyDisabled: valid.legacyDisabled,
  };
  return stringify(file);
}

export function settingsFromFile(file: FlagFileContent): FlagSettings {
  const defaults = DEFAULT_FLAGS;
  return {
    elicitation: {
      enabled: file.elicitation?.enabled ?? defaults.elicitation.enabled,
      percentage: file.elicitation?.percentage ?? defaults.elicitation.percentage,
      agents: [...(file.elicitation?.agents ?? defaults.elicitation.agents)],
      excludedAgents: [...(file.elicitation?.excludedAgents ?? defaults.elicitation.excludedAgents)],
    },
    autoFallback: file.compatibility?.autoFallback ?? defaults.autoFallback,
    dualMode: file.compatibility?.dualMode ?? defaults.dualMode,
    deprecation: {
      warnings: file.deprecation?.warnings ?? defaults.deprecation.warnings,
      throttleMs: file.deprecation?.throttleMs ?? defaults.deprecation.throttleMs,
    },
    legacyDisabled: file.legacyDisabled ?? defaults.legacyDisabled,
    legacyTimeoutMs: file.compatibility?.legacyTimeoutMs ?? defaults.legacyTimeoutMs,
    elicitationTimeoutMs: file.compatibility?.elicitationTimeoutMs ?? defaults.elicitationTimeoutMs,
  };
}

/** Line of the key (or list item) at `path`, or of its nearest existing ancestor. */
function lineOf(document: Document, lineCounter: LineCounter, path: IssuePath): number {
  for (let depth = path.length; depth > 0; depth--) {
    const parent = depth === 1 ? document.contents : document.getIn(path.slice(0, depth - 1), true);
    const segment = path[depth - 1];
    let node: unknown;
    if (isMap(parent)) {
      node = parent.items.find((pair) => (isScalar(pair.key) ? pair.key.value : pair.key) === segment)?.key;
    } else if (isSeq(parent) && typeof segment === 'number') {
      node = parent.items[segment];
    }
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  const root = document.contents;
  return isNode(root) && root.range ? lineCounter.linePos(root.range[0]).line : 1;
}

type Leaf = boolean | number | string | readonly string[];

/** Every dotted path of a flag, e.g. `elicitation.percentage`. */
type LeafPath<T, Prefix extends string = ''> = {
  [Key in keyof T & string]: T[Key] extends Leaf ? `${Prefix}${Key}` : LeafPath<T[Key], `${Prefix}${Key}.`>;
}[keyof T & string];

export type FlagPath = LeafPath<FlagSettings>;

type FlagKind = 'boolean' | 'integer' | 'agentList';

const FLAG_KINDS: Readonly<Record<FlagPath, FlagKind>> = {
  'elicitation.enabled': 'boolean',
  'elicitation.percentage': 'integer',
  'elicitation.agents': 'agentList',
  'elicitation.excludedAgents': 'agentList',
  autoFallback: 'boolean',
  dualMode: 'boolean',
  'deprecation.warnings': 'boolean',
  'deprecation.throttleMs': 'integer',
  legacyDisabled: 'boolean',
  legacyTimeoutMs: 'integer',
  elicitationTimeoutMs: 'integer',
};

/** The flags an operator can set, in display order. */
export const FLAG_PATHS: readonly FlagPath[] = Object.freeze(Object.keys(FLAG_KINDS) as FlagPath[]);

function isFlagPath(path: string): path is FlagPath {
  return Object.hasOwn(FLAG_KINDS, path);
}

/**
 * Applies a CLI-style assignment such as `elicitation.percentage=25` and returns new settings.
 * Lists are comma-separated (`elicitation.agents=alpha,canary_*`; empty clears the list).
 */
export function applyFlagAssignment(settings: FlagSettings, path: string, rawValue: string): FlagSettings {
  if (!isFlagPath(path)) {
    throw new FlagsError('FLAGS_UNKNOWN_FLAG', `unknown flag "${path}"; valid flags: ${FLAG_PATHS.join(', ')}`, {
      issues: [`${path}: unknown flag`],
    });
  }
  const value = parseRawValue(path, FLAG_KINDS[path], rawValue);
  const updated: unknown = structuredClone(flagSettingsOf(settings));
  writePath(updated, path, value);
  return parseOrThrow(flagSettingsSchema, updated, `invalid value for ${path}`);
}

function parseRawValue(path: FlagPath, kind: FlagKind, rawValue: string): unknown {
  const text = rawValue.trim();
  switch (kind) {
    case 'boolean':
      if (text === 'true') return true;
      if (text === 'false') return false;
      throw new FlagsError('FLAGS_INVALID', `invalid value for ${path}: expected true or false, got ${JSON.stringify(rawValue)}`, {
        issues: [`${path}: expected true or false, got ${JSON.stringify(rawValue)}`],
      });
    case 'integer':
      // Anything that is not plain decimal stays a string, so the schema reports it.
      return /^[+-]?\d+(\.\d+)?$/.test(text) ? Number(text) : rawValue;
    case 'agentList':
      return text === '' ? [] : text.split(',').map((item) => item.trim());
  }
}

function writePath(target: unknown, path: FlagPath, value: unknown): void {
  const segments = path.split('.');
  const last = segments.pop() as string;
  let current = target as Record<string, unknown>;
  for (const segment of segments) current = current[segment] as Record<string, unknown>;
  current[last] = value;
}

function readPath(source: FlagSettings, path: FlagPath): unknown {
  let current: unknown = source;
  for (const segment of path.split('.')) current = (current as Record<string, unknown>)[segment];
  return current;
}

export interface FlagChange {
  flag: FlagPath;
  oldValue: unknown;
  newValue: unknown;
}

/** The flags whose value differs, in FLAG_PATHS order; publication metadata is ignored. */
export function diffFlags(oldSettings: FlagSettings, newSettings: FlagSettings): FlagChange[] {
  const changes: FlagChange[] = [];
  for (const flag of FLAG_PATHS) {
    const oldValue = readPath(oldSettings, flag);
    const newValue = readPath(newSettings, flag);
    if (!sameValue(oldValue, newValue)) {
      changes.push({ flag, oldValue: copy(oldValue), newValue: copy(newValue) });
    }
  }
  return changes;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, index) => Object.is(item, b[index]));
  }
  return Object.is(a, b);
}

function copy(value: unknown): unknown {
  return Array.isArray(value) ? [...value] : value;
}
