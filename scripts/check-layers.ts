/**
 * The package graph, checked (docs/decisions/0017-package-graph-and-build.md). Every import of
 * every TypeScript file is held against two rules:
 *
 * - declared: a package a file imports is listed in the package.json that owns the file
 *   ("dependencies" for production code, "dependencies" or "devDependencies" for tests), and a
 *   workspace package only tests use is a devDependency. npm hoists every package to the root, so
 *   without this check an undeclared import works until someone installs one package alone.
 * - layered: production code imports only lower layers (LAYERS below); no service imports another;
 *   libs/testkit is for tests only. Tests follow the layers too, except that they may use testkit.
 *
 * Production code is what a package's entry points (its `exports` and src/main.ts) reach through
 * relative imports; everything else in a package (*.test.ts, fixtures, test helpers) is test code.
 * Files outside the workspaces (bench/, scripts/, charts/…/tests, docs/examples) belong to the
 * root package.json and are tooling: they may import anything they declare.
 *
 *   node --conditions=agentbridge-source --import tsx scripts/check-layers.ts [--root DIR]
 *
 * Exits 0 when every import follows the rules, 1 with one sentence per broken one.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import ts from 'typescript';

/** Layer of each workspace package, lowest first. A production file imports only lower layers. */
const LAYERS: Readonly<Record<string, number>> = {
  '@agent-bridge/protocol': 0,
  '@agent-bridge/flags': 1,
  '@agent-bridge/observability': 1,
  '@agent-bridge/event-store': 2,
  '@agent-bridge/service-kit': 3,
  // The agent tools are built on the service kit (settings, the tool error mapping).
  '@agent-bridge/agent-tools': 4,
  // Test-only: built on the libs, never imported by production code (see TEST_ONLY).
  '@agent-bridge/testkit': 5,
  '@agent-bridge/controller': 6,
  '@agent-bridge/elicitation': 6,
  '@agent-bridge/legacy-poll': 6,
  '@agent-bridge/router': 6,
  '@agent-bridge/bridgectl': 7,
  '@agent-bridge/e2e': 8,
};

const LAYER_NAMES = ['protocol', 'flags, observability', 'event-store', 'service-kit', 'agent-tools', 'testkit', 'services', 'tools (bridgectl)', 'e2e'];
const SERVICE_LAYER = 6;
const TEST_ONLY = '@agent-bridge/testkit';
/** Directories never scanned. */
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', '.local', '.tools']);

interface Manifest {
  name: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  exports?: Record<string, Record<string, string> | string>;
  workspaces?: string[];
}

interface Owner {
  /** Directory relative to the root ('' for the root package). */
  dir: string;
  manifest: Manifest;
  /** Files (relative to the root) that production code is made of. */
  production: Set<string>;
}

interface Use {
  file: string;
  specifier: string;
  production: boolean;
}

const builtins = new Set(builtinModules);

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

function readManifest(path: string): Manifest {
  return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
}

/** Every module specifier a file names: imports (type-only too), re-exports, dynamic imports. */
function importsOf(path: string): string[] {
  return ts.preProcessFile(readFileSync(path, 'utf8'), true, true).importedFiles.map((file) => file.fileName);
}

function tsFilesUnder(root: string, dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string): void => {
    if (!existsSync(join(root, at))) return;
    for (const name of readdirSync(join(root, at))) {
      if (SKIP_DIRS.has(name)) continue;
      const path = at === '' ? name : `${at}/${name}`;
      if (statSync(join(root, path)).isDirectory()) walk(path);
      else if (/\.(ts|mts)$/.test(name) && !name.endsWith('.d.ts')) found.push(path);
    }
  };
  walk(dir);
  return found;
}

/** The workspace directories the root package.json names (`libs/*` style globs and plain paths). */
function workspaceDirs(root: string, patterns: readonly string[]): string[] {
  return patterns.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return existsSync(join(root, pattern, 'package.json')) ? [pattern] : [];
    const parent = pattern.slice(0, -2);
    if (!existsSync(join(root, parent))) return [];
    return readdirSync(join(root, parent))
      .map((name) => `${parent}/${name}`)
      .filter((dir) => existsSync(join(root, dir, 'package.json')));
  });
}

/** Files the entry points reach through relative imports: the package's production code. */
function productionFiles(root: string, dir: string, manifest: Manifest): Set<string> {
  const entries: string[] = [];
  for (const target of Object.values(manifest.exports ?? {})) {
    const source = typeof target === 'string' ? target : (target['agentbridge-source'] ?? target.types);
    if (source?.endsWith('.ts')) entries.push(normalize(join(dir, source)));
  }
  if (existsSync(join(root, dir, 'src/main.ts'))) entries.push(join(dir, 'src/main.ts'));
  const reached = new Set<string>();
  const queue = entries.map((entry) => entry.split(sep).join('/'));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (reached.has(file) || !existsSync(join(root, file))) continue;
    reached.add(file);
    for (const specifier of importsOf(join(root, file))) {
      if (specifier.startsWith('.'))
        queue.push(
          normalize(join(dirname(file), specifier))
            .split(sep)
            .join('/')
            .replace(/\.js$/, '.ts'),
        );
    }
  }
  return reached;
}

function describeLayer(layer: number): string {
  return `layer ${layer} (${LAYER_NAMES[layer]})`;
}

/** The sentence for an import that breaks a rule, or undefined when it follows them all. */
function judge(use: Use, owner: Owner): string | undefined {
  const { file, specifier, production } = use;
  const name = packageName(specifier);
  const own = owner.manifest;
  const where = owner.dir === '' ? 'the root package.json' : `${owner.dir}/package.json`;
  const declaredProd = own.dependencies?.[name] !== undefined;
  const declaredDev = own.devDependencies?.[name] !== undefined;
  const kind = production ? 'production code' : 'test code';
  const at = `${file} imports '${specifier}'`;
  if (name === own.name) return undefined;

  if (name.startsWith('@agent-bridge/') && owner.dir !== '') {
    const from = LAYERS[own.name];
    const to = LAYERS[name];
    if (to === undefined) return `${at}: ${name} is not a workspace package with a layer (scripts/check-layers.ts LAYERS)`;
    if (from === undefined) return `${at}: ${own.name} has no layer in scripts/check-layers.ts LAYERS; give it one`;
    if (name === TEST_ONLY && production) return `${at}: libs/testkit is test-only; production code (reached from ${own.name}'s entry points) must not import it`;
    if (name !== TEST_ONLY && from === SERVICE_LAYER && to === SERVICE_LAYER) {
      if (production) return `${at}: a service must not import another service (${name}); share the code through a lib`;
    } else if (name !== TEST_ONLY && to >= from) {
      return `${at}: ${own.name} is ${describeLayer(from)} and may import only lower layers, but ${name} is ${describeLayer(to)}`;
    }
  }
  if (production && !declaredProd) {
    return declaredDev ? `${at}: ${name} is a devDependency of ${where}, but ${kind} needs it in "dependencies"` : `${at}: ${name} is not declared in ${where}; add it to "dependencies"`;
  }
  if (!production && !declaredProd && !declaredDev) return `${at}: ${name} is not declared in ${where}; add it to "devDependencies" (test code)`;
  return undefined;
}

export interface LayerReport {
  /** One sentence per broken rule. */
  problems: string[];
  /** Files checked. */
  files: number;
}

export function checkLayers(root: string): LayerReport {
  const rootManifest = readManifest(join(root, 'package.json'));
  const owners: Owner[] = workspaceDirs(root, rootManifest.workspaces ?? []).map((dir) => {
    const manifest = readManifest(join(root, dir, 'package.json'));
    return { dir, manifest, production: productionFiles(root, dir, manifest) };
  });
  const rootOwner: Owner = { dir: '', manifest: rootManifest, production: new Set() };
  const ownerOf = (file: string): Owner => owners.find((owner) => file.startsWith(`${owner.dir}/`)) ?? rootOwner;

  const files = [...new Set([...owners.flatMap((owner) => tsFilesUnder(root, owner.dir)), ...['bench', 'scripts', 'charts', 'docs/examples'].flatMap((dir) => tsFilesUnder(root, dir))])].sort();
  const problems: string[] = [];
  /** Per owner: workspace packages its production code imports (the rest belong in devDependencies). */
  const usedInProduction = new Map<Owner, Set<string>>();
  for (const file of files) {
    const owner = ownerOf(file);
    const production = owner.production.has(file);
    for (const specifier of importsOf(join(root, file))) {
      if (specifier.startsWith('.') || specifier.startsWith('node:') || builtins.has(specifier)) continue;
      const problem = judge({ file, specifier, production }, owner);
      if (problem) problems.push(problem);
      if (production) {
        const used = usedInProduction.get(owner) ?? new Set<string>();
        used.add(packageName(specifier));
        usedInProduction.set(owner, used);
      }
    }
  }
  for (const owner of owners) {
    for (const name of Object.keys(owner.manifest.dependencies ?? {})) {
      if (name.startsWith('@agent-bridge/') && !usedInProduction.get(owner)?.has(name)) {
        problems.push(`${owner.dir}/package.json lists ${name} in "dependencies" but no production code of ${owner.manifest.name} imports it; move it to "devDependencies" (or drop it)`);
      }
    }
  }
  return { problems, files: files.length };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { root: { type: 'string' } } });
  const root = values.root ?? fileURLToPath(new URL('..', import.meta.url));
  const { problems, files } = checkLayers(root);
  if (problems.length > 0) {
    process.stderr.write(`check-layers: ${problems.length} import(s) break the package graph (docs/decisions/0017-package-graph-and-build.md):\n`);
    for (const problem of problems) process.stderr.write(`  ${problem}\n`);
    process.exit(1);
  }
  process.stdout.write(`check-layers: ${files} files, every import declared and layered (${relative(process.cwd(), root) || '.'})\n`);
}
