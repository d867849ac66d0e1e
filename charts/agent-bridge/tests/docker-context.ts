/**
 * What `docker build .` sends as its context: the repository's files filtered by .dockerignore, with
 * Docker's matching rules (moby/patternmatcher): patterns are Go filepath.Match globs plus `**`,
 * relative to the context root; for each file the LAST pattern that matches the file or one of its
 * parent directories decides, `!` re-including. No docker engine needed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface IgnorePattern {
  text: string;
  negated: boolean;
  regex: RegExp;
}

function globToRegex(glob: string): RegExp {
  let source = '';
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i]!;
    if (char === '*') {
      if (glob[i + 1] === '*') {
        // `**/` matches zero or more directories; a trailing `**` anything below.
        if (glob[i + 2] === '/') {
          source += '(?:.*/)?';
          i += 2;
        } else {
          source += '.*';
          i += 1;
        }
      } else {
        source += '[^/]*';
      }
    } else if (char === '?') {
      source += '[^/]';
    } else if (char === '[') {
      const end = glob.indexOf(']', i);
      source += glob.slice(i, end + 1).replace('[!', '[^');
      i = end;
    } else {
      source += char.replace(/[.+^${}()|\\]/g, '\\$&');
    }
  }
  return new RegExp(`^${source}$`);
}

export function parseDockerignore(text: string): IgnorePattern[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = (negated ? line.slice(1) : line).trim().replace(/^\/+/, '').replace(/\/+$/, '');
      return { text: line, negated, regex: globToRegex(pattern) };
    });
}

/** Whether `path` (relative, `/`-separated) is left out of the build context. */
export function isIgnored(path: string, patterns: readonly IgnorePattern[]): boolean {
  const parts = path.split('/');
  const candidates = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
  let ignored = false;
  for (const pattern of patterns) {
    if (candidates.some((candidate) => pattern.regex.test(candidate))) ignored = !pattern.negated;
  }
  return ignored;
}

/** Every file of the build context rooted at `root` (node_modules and .git are never walked). */
export function buildContext(root: string): Set<string> {
  const patterns = parseDockerignore(readFileSync(join(root, '.dockerignore'), 'utf8'));
  const files = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.name === 'node_modules' || entry.name === '.git') continue;
      if (entry.isDirectory()) walk(path);
      else if (!isIgnored(path, patterns)) files.add(path);
    }
  };
  walk('');
  return files;
}
