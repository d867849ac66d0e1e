import { z } from 'zod';
import { FlagsError } from './errors.js';

export type IssuePath = readonly PropertyKey[];

export interface DescribeIssuesOptions {
  /** Prefix for a problem at `path`, e.g. `flags.yaml:7: `; empty when unknown. */
  locate?: (path: IssuePath) => string;
  /** Extra advice for an unknown key, appended after the list of allowed keys. */
  hintForUnknownKey?: (parentPath: IssuePath, key: string) => string | undefined;
}

/** Parses `input` or throws a FLAGS_INVALID FlagsError listing every problem. */
export function parseOrThrow<Schema extends z.ZodType>(schema: Schema, input: unknown, headline: string, options: DescribeIssuesOptions = {}): z.infer<Schema> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issues = describeIssues(result.error, schema, input, options);
  throw new FlagsError('FLAGS_INVALID', `${headline}:\n  - ${issues.join('\n  - ')}`, {
    cause: result.error,
    issues,
  });
}

/** Turns zod issues into one line per problem: `path: expected …, got …`. */
function describeIssues(error: z.ZodError, schema: z.ZodType, input: unknown, options: DescribeIssuesOptions = {}): string[] {
  const locate = options.locate ?? (() => '');
  const lines: string[] = [];
  const seen = new Set<string>();
  const add = (line: string): void => {
    if (!seen.has(line)) {
      seen.add(line);
      lines.push(line);
    }
  };

  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const allowed = Object.keys(objectShapeAt(schema, issue.path) ?? {});
      for (const key of issue.keys) {
        const keyPath = [...issue.path, key];
        const advice = [allowed.length > 0 ? `allowed here: ${allowed.join(', ')}` : undefined, suggestCamelCase(key, allowed), options.hintForUnknownKey?.(issue.path, key)].filter((part): part is string => part !== undefined);
        add(`${locate(keyPath)}${formatPath(keyPath)}: unknown field${advice.length > 0 ? ` (${advice.join('; ')})` : ''}`);
      }
      continue;
    }
    const received = valueAt(input, issue.path);
    add(`${locate(issue.path)}${formatPath(issue.path)}: ${issue.message}, got ${describeValue(received)}`);
  }
  return lines;
}

function formatPath(path: IssuePath): string {
  if (path.length === 0) return '(top level)';
  let text = '';
  for (const segment of path) {
    if (typeof segment === 'number') text += `[${segment}]`;
    else text += text === '' ? String(segment) : `.${String(segment)}`;
  }
  return text;
}

function valueAt(input: unknown, path: IssuePath): unknown {
  let current = input;
  for (const segment of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[segment];
  }
  return current;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing (missing)';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  const text = JSON.stringify(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function objectShapeAt(schema: z.ZodType, path: IssuePath): Record<string, z.ZodType> | undefined {
  let current: z.ZodType | undefined = schema;
  for (const segment of path) {
    current = unwrapOptional(current);
    if (current instanceof z.ZodObject && typeof segment === 'string') {
      current = (current.shape as Record<string, z.ZodType>)[segment];
    } else if (current instanceof z.ZodArray) {
      current = current.element as z.ZodType;
    } else {
      return undefined;
    }
    if (current === undefined) return undefined;
  }
  current = unwrapOptional(current);
  return current instanceof z.ZodObject ? (current.shape as Record<string, z.ZodType>) : undefined;
}

function unwrapOptional(schema: z.ZodType): z.ZodType {
  let current = schema;
  while (current instanceof z.ZodOptional || current instanceof z.ZodNullable || current instanceof z.ZodDefault) {
    current = current.unwrap() as z.ZodType;
  }
  return current;
}

function suggestCamelCase(key: string, allowed: readonly string[]): string | undefined {
  const camel = key.replace(/[_-]([a-z])/g, (_, letter: string) => letter.toUpperCase());
  return camel !== key && allowed.includes(camel) ? `did you mean ${camel}?` : undefined;
}
