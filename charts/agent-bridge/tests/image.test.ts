/**
 * The image the chart deploys (Dockerfile, .dockerignore, scripts/container-entrypoint.sh), checked
 * without a docker engine: what the build context holds, that the production install has every
 * package the services import, and that the entry point starts each service.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, normalize } from 'node:path';
import { describe, test } from 'node:test';
import { buildContext, isIgnored, parseDockerignore } from './docker-context.js';
import { REPO_ROOT } from './helm.js';

const dockerfile = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8');
const SERVICES = ['legacy-poll', 'elicitation', 'router', 'controller'] as const;
const ENTRY_POINTS = [...SERVICES.map((service) => `services/${service}/src/main.ts`), 'tools/bridgectl/src/main.ts'];

/** The workspaces by package name: directory and the `agentbridge-source` export of each subpath. */
function workspaces(): Map<string, { dir: string; exports: Record<string, string> }> {
  const found = new Map<string, { dir: string; exports: Record<string, string> }>();
  for (const parent of ['libs', 'services', 'tools']) {
    for (const name of readdirSync(join(REPO_ROOT, parent))) {
      const file = join(REPO_ROOT, parent, name, 'package.json');
      if (!existsSync(file)) continue;
      const manifest = JSON.parse(readFileSync(file, 'utf8')) as { name: string; exports?: Record<string, Record<string, string>> };
      const exports: Record<string, string> = {};
      for (const [subpath, conditions] of Object.entries(manifest.exports ?? {})) {
        if (conditions['agentbridge-source']) exports[subpath] = conditions['agentbridge-source'];
      }
      found.set(manifest.name, { dir: `${parent}/${name}`, exports });
    }
  }
  return found;
}

/** Module specifiers a source file needs at run time (type-only imports are erased by tsx). */
function runtimeImports(source: string): string[] {
  const specifiers: string[] = [];
  for (const match of source.matchAll(/(?:^|[\s;}])(import|export)(\s+type)?\s+[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g)) {
    if (!match[2]) specifiers.push(match[3]!);
  }
  for (const match of source.matchAll(/(?:^|[\s;])import\s*['"]([^'"]+)['"]/g)) specifiers.push(match[1]!);
  for (const match of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) specifiers.push(match[1]!);
  return specifiers;
}

/** Files a source file reads next to itself: `new URL('<literal>', import.meta.url)`. */
function siblingFiles(source: string): string[] {
  return [...source.matchAll(/new URL\(\s*[`'"]([^`'"]+)[`'"]\s*,\s*import\.meta\.url\s*\)/g)].map((match) => match[1]!).filter((path) => !path.endsWith('/'));
}

function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}

/**
 * Walks the imports from every entry point: each relative import and workspace package must resolve
 * to a file in the build context, each other package must be installed by `npm ci --omit=dev`.
 */
function walkRuntimeGraph(context: Set<string>): { files: Set<string>; packages: Set<string>; problems: string[] } {
  const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; link?: boolean }> };
  const packages = workspaces();
  const builtins = new Set(builtinModules);
  const files = new Set<string>();
  const external = new Set<string>();
  const problems: string[] = [];
  const queue = [...ENTRY_POINTS];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    if (!context.has(file)) problems.push(`${file} is needed at run time but .dockerignore leaves it out of the image`);
    if (!file.endsWith('.ts')) continue;
    const source = readFileSync(join(REPO_ROOT, file), 'utf8');
    for (const sibling of siblingFiles(source)) {
      if (sibling.includes('${')) {
        const dir = normalize(join(dirname(file), sibling.slice(0, sibling.lastIndexOf('/'))));
        const wanted = readdirSync(join(REPO_ROOT, dir)).map((name) => `${dir}/${name}`);
        for (const path of wanted) if (!context.has(path)) problems.push(`${path} (read by ${file}) is not in the image`);
      } else {
        queue.push(normalize(join(dirname(file), sibling)));
      }
    }
    for (const specifier of runtimeImports(source)) {
      if (specifier.startsWith('.')) {
        queue.push(normalize(join(dirname(file), specifier)).replace(/\.js$/, '.ts'));
      } else if (specifier.startsWith('node:') || builtins.has(specifier)) {
        continue;
      } else if (specifier.startsWith('@agent-bridge/')) {
        const name = packageName(specifier);
        const workspace = packages.get(name);
        const subpath = `.${specifier.slice(name.length)}`;
        const target = workspace?.exports[subpath === '.' ? '.' : subpath];
        if (!workspace || !target) problems.push(`${file}: cannot resolve ${specifier}`);
        else queue.push(normalize(join(workspace.dir, target)));
      } else {
        const name = packageName(specifier);
        external.add(name);
        const entry = lock.packages[`node_modules/${name}`];
        if (!entry) problems.push(`${file} imports ${name}, which package-lock.json does not install`);
        else if (entry.dev) problems.push(`${file} imports ${name}, a devDependency: \`npm ci --omit=dev\` (the image) leaves it out — declare it in "dependencies"`);
      }
    }
  }
  return { files, packages: external, problems };
}

describe('image: Dockerfile', () => {
  test('multi-stage build on a current Node LTS slim base (node:22 or node:24 bookworm-slim)', () => {
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(dockerfile)?.[1];
    assert.match(base ?? '', /^node:(22|24)(\.\d+)*-bookworm-slim$/);
    const stages = [...dockerfile.matchAll(/^FROM \$\{NODE_IMAGE\} AS (\w+)$/gm)].map((m) => m[1]);
    assert.deepEqual(stages, ['manifests', 'deps', 'runtime']);
  });

  test('production dependencies only: the runtime stage takes node_modules from `npm ci --omit=dev`', () => {
    assert.match(dockerfile, /RUN npm ci --omit=dev\b/);
    const runtime = dockerfile.slice(dockerfile.indexOf('AS runtime'));
    assert.match(runtime, /COPY --from=deps /);
    assert.doesNotMatch(runtime, /npm (ci|install)/, 'nothing else is installed into the runtime stage');
  });

  test('runs as a non-root numeric user (runAsNonRoot can verify it) with the entry point script', () => {
    const user = [...dockerfile.matchAll(/^USER (\S+)$/gm)].map((m) => m[1]!);
    assert.equal(user.length, 1);
    assert.match(user[0]!, /^[1-9]\d*:[1-9]\d*$/);
    assert.match(dockerfile, /^ENTRYPOINT \["\/app\/scripts\/container-entrypoint\.sh"\]$/m);
  });

  test('the image user matches the chart: podSecurityContext runAsUser/runAsGroup', () => {
    const values = readFileSync(join(REPO_ROOT, 'charts/agent-bridge/values.yaml'), 'utf8');
    const [uid, gid] = /^USER (\d+):(\d+)$/m.exec(dockerfile)!.slice(1);
    assert.match(values, new RegExp(`podSecurityContext:\\n  runAsNonRoot: true\\n  runAsUser: ${uid}\\n  runAsGroup: ${gid}\\n`));
  });
});

describe('image: build context (.dockerignore)', () => {
  const context = buildContext(REPO_ROOT);

  test('the .dockerignore matcher follows Docker: last match wins, parents count, ! re-includes', () => {
    const patterns = parseDockerignore('*\n!libs/*/src/**\n**/*.test.ts\n!keep.test.ts');
    assert.equal(isIgnored('README.md', patterns), true);
    assert.equal(isIgnored('libs/flags/src/crd.ts', patterns), false);
    assert.equal(isIgnored('libs/flags/src/crd.test.ts', patterns), true);
    assert.equal(isIgnored('libs/flags/package.json', patterns), true);
    assert.equal(isIgnored('keep.test.ts', patterns), false);
  });

  test('holds the manifests, tsconfig, every entry point and the entry script', () => {
    for (const file of ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.base.json', 'scripts/container-entrypoint.sh', ...ENTRY_POINTS]) {
      assert.ok(context.has(file), `${file} is in the build context`);
    }
    for (const manifest of ['libs', 'services', 'tools'].flatMap((parent) => readdirSync(join(REPO_ROOT, parent)).map((name) => `${parent}/${name}/package.json`))) {
      if (existsSync(join(REPO_ROOT, manifest))) assert.ok(context.has(manifest), `${manifest} (npm ci needs every workspace manifest)`);
    }
    assert.ok(context.has('e2e/package.json'));
  });

  test('leaves out tests, fixtures, docs, deploy, bench, e2e sources, local state and tools', () => {
    const unwanted = [...context].filter((file) => /\.test\.ts$|\/fixtures\/|^(docs|deploy|bench|\.local|\.tools|\.ci|node_modules)\/|^e2e\/(?!package\.json$)|^libs\/testkit\/src\//.test(file));
    assert.deepEqual(unwanted, []);
    assert.ok(context.size < 400, `the context stays small (${context.size} files)`);
  });

  test('every file the services and bridgectl load at run time is in the image, and every package they import is a production dependency', () => {
    const { files, packages, problems } = walkRuntimeGraph(context);
    assert.deepEqual(problems, []);
    assert.ok(files.size > 50, `walked ${files.size} files`);
    for (const expected of ['ioredis', 'prom-client', 'zod', '@modelcontextprotocol/server', '@modelcontextprotocol/node', '@kubernetes/client-node']) assert.ok(packages.has(expected), `${expected} is imported`);
    assert.ok(context.has('charts/agent-bridge/crds/featureflags.agentbridge.io.yaml'), 'the CRD (libs/flags/src/crd.ts) is in the image');
  });

  test('tsx, the loader the image runs the sources with, is a production dependency', () => {
    const manifest = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    assert.ok(manifest.dependencies?.tsx, 'package.json "dependencies" has tsx');
    const script = readFileSync(join(REPO_ROOT, 'scripts/container-entrypoint.sh'), 'utf8');
    assert.match(script, /exec node --conditions=agentbridge-source --import tsx "\$entry"/);
  });
});

describe('image: entry point', () => {
  const run = (args: string[], env: Record<string, string>) =>
    new Promise<{ code: number | null; output: string }>((resolve) => {
      const child = spawn(join(REPO_ROOT, 'scripts/container-entrypoint.sh'), args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('close', (code) => resolve({ code, output }));
    });

  test('starts the service named by its first argument (each refuses a bad setting, naming itself)', async () => {
    const results = await Promise.all(SERVICES.map((service) => run([service], { SHARD_COUNT: '0' })));
    results.forEach(({ code, output }, index) => {
      assert.notEqual(code, 0);
      assert.match(output, new RegExp(`Invalid configuration for ${SERVICES[index]}: .*SHARD_COUNT`), output);
    });
  });

  test('runs bridgectl, and refuses anything else with its usage', async () => {
    const bridgectl = await run(['bridgectl', 'no-such-command'], {});
    assert.equal(bridgectl.code, 2, bridgectl.output);
    const other = await run(['bash'], {});
    assert.equal(other.code, 64);
    assert.match(other.output, /^usage: agent-bridge legacy-poll\|elicitation\|router\|controller\|bridgectl/);
  });
});

describe('image: make images', () => {
  test('fails with a clear message when docker is missing (no docker here)', () => {
    const result = spawnSync('make', ['-s', '--no-print-directory', 'images', 'DOCKER=/nonexistent/docker'], { cwd: REPO_ROOT, encoding: 'utf8' });
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /make images: docker is not installed/);
  });
});
