/** Reading a FeatureFlags YAML file the way the controller does: each bad field named, with its line when known. */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { FlagsError, parseFeatureFlags, type FeatureFlagsSpec } from '@agent-bridge/flags';
import { InputError } from './common.js';

export function readResourceFile(path: string): { text: string; spec: FeatureFlagsSpec } {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new InputError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`);
  }
  return { text, spec: parseResourceText(text, path) };
}

/** Parses a FeatureFlags YAML document; InputError naming each bad field (with its line when known). */
export function parseResourceText(text: string, path: string): FeatureFlagsSpec {
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) throw new InputError(`${path}: not valid YAML:\n  - ${document.errors.map((e) => e.message.trimEnd()).join('\n  - ')}`);
  try {
    return parseFeatureFlags(document.toJS(), path).spec;
  } catch (error) {
    if (error instanceof FlagsError) throw new InputError(error.message);
    throw error;
  }
}
