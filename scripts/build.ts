/**
 * `make build`: one ES module per program in dist/ (the four services and bridgectl), so the image
 * and the CLI start without transpiling TypeScript (docs/decisions/0017-package-graph-and-build.md).
 * esbuild bundles the workspace code of each program into one file (PROGRAMS says which also take
 * in their npm packages). dist/ is built in the root package ("type": "module"), so the .js files
 * are ES modules. Development and tests keep running the sources with tsx.
 *
 *   node --conditions=agentbridge-source --import tsx scripts/build.ts [--outdir DIR]
 *
 * A module that finds a file next to its source (`new URL('./lua/…', import.meta.url)`: the Lua
 * scripts, the CRD) gets its source file's URL, computed from the bundle's own location, so
 * dist/ works wherever the checkout (or the image's /app) is, as long as the sources sit beside it.
 */
import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build, type Plugin } from 'esbuild';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * Program name → entry point. dist/<name>.js is what scripts/container-entrypoint.sh and
 * tools/bridgectl/bin/bridgectl run. `bundleNpm`: the npm packages go into the bundle too, for
 * bridgectl only: loading ioredis, zod and yaml from node_modules is most of its start-up (0.23 s
 * of a 0.3 s `--help`), and an operator's CLI should answer at once. The services keep importing
 * their packages from node_modules (the image installs them), so pino, OpenTelemetry, the MCP SDK
 * and the Kubernetes client run exactly as published.
 */
export const PROGRAMS: Readonly<Record<string, { entry: string; bundleNpm: boolean }>> = {
  'legacy-poll': { entry: 'services/legacy-poll/src/main.ts', bundleNpm: false },
  elicitation: { entry: 'services/elicitation/src/main.ts', bundleNpm: false },
  router: { entry: 'services/router/src/main.ts', bundleNpm: false },
  controller: { entry: 'services/controller/src/main.ts', bundleNpm: false },
  bridgectl: { entry: 'tools/bridgectl/src/main.ts', bundleNpm: true },
};

const RESOLVING = Symbol('resolving');
const inNodeModules = (path: string): boolean => path.split(sep).includes('node_modules');

/**
 * Workspace packages are bundled, resolved to their sources. Their modules are declared free of
 * side effects (none is imported for its side effects alone: there is no `import './x.js'` in
 * the libs, services or tools, and the build fails on esbuild's warning if one appears), so a
 * program leaves out the modules it uses nothing of, and with them their npm imports: bridgectl
 * does not load OpenTelemetry, pino or the MCP server to print its usage. npm packages are left
 * as imports unless `bundleNpm`.
 */
function workspaceModules(bundleNpm: boolean): Plugin {
  return {
    name: 'workspace-modules',
    setup(builder) {
      builder.onResolve({ filter: /.*/ }, async (args) => {
        if (args.pluginData === RESOLVING || inNodeModules(args.importer)) return undefined;
        const workspace = args.path.startsWith('@agent-bridge/') || args.path.startsWith('.') || isAbsolute(args.path);
        if (!workspace) return bundleNpm ? undefined : { path: args.path, external: true };
        const resolved = await builder.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: RESOLVING });
        if (resolved.errors.length > 0) return { errors: resolved.errors };
        return { ...resolved, sideEffects: !resolved.path.startsWith(ROOT) || inNodeModules(resolved.path) };
      });
    },
  };
}

/** `import.meta.url` in a bundled workspace module means its source file, expressed relative to the bundle. */
function sourceUrls(outdir: string): Plugin {
  return {
    name: 'source-import-meta-url',
    setup(builder) {
      builder.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (inNodeModules(args.path)) return undefined;
        const contents = await readFile(args.path, 'utf8');
        if (!contents.includes('import.meta.url')) return undefined;
        const fromBundle = relative(outdir, args.path).split(sep).join('/');
        return { contents: contents.replaceAll('import.meta.url', `new URL(${JSON.stringify(fromBundle)}, import.meta.url).href`), loader: 'ts' };
      });
    },
  };
}

export interface BuildResult {
  outdir: string;
  /** dist file of each program. */
  outputs: Record<string, string>;
  elapsedMs: number;
}

export async function buildPrograms(outdir = join(ROOT, 'dist')): Promise<BuildResult> {
  const started = performance.now();
  const absoluteOut = resolve(outdir);
  const programs = Object.entries(PROGRAMS);
  const results = await Promise.all(
    [false, true].map((bundleNpm) =>
      build({
        absWorkingDir: ROOT,
        entryPoints: programs.filter(([, program]) => program.bundleNpm === bundleNpm).map(([name, program]) => ({ in: program.entry, out: name })),
        outdir: absoluteOut,
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20.19',
        conditions: ['agentbridge-source'],
        sourcemap: 'linked',
        logLevel: 'silent',
        // A bundled CommonJS package (ioredis) calls require() for Node's own modules.
        banner: bundleNpm ? { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" } : {},
        plugins: [workspaceModules(bundleNpm), sourceUrls(absoluteOut)],
      }),
    ),
  );
  // A warning fails the build: e.g. esbuild dropping `import './x.js'` (workspace modules are
  // side-effect free, see workspaceModules), which would silently change what a program runs.
  const warnings = results.flatMap((result) => result.warnings);
  if (warnings.length > 0) {
    const text = warnings.map((warning) => `${warning.location ? `${warning.location.file}:${warning.location.line}: ` : ''}${warning.text}`).join('\n  ');
    throw new Error(`build: ${warnings.length} warning(s), fix them:\n  ${text}`);
  }
  const outputs = Object.fromEntries(programs.map(([name]) => [name, join(absoluteOut, `${name}.js`)]));
  return { outdir: absoluteOut, outputs, elapsedMs: performance.now() - started };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
  const result = await buildPrograms(values.outdir).catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
  const where = relative(process.cwd(), result.outdir) || '.';
  process.stdout.write(`build: ${Object.keys(result.outputs).join(', ')} → ${where}/ in ${Math.round(result.elapsedMs)} ms\n`);
}
