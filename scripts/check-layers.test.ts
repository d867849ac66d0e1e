import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { REPO_ROOT } from '@agent-bridge/testkit';
import { checkLayers } from './check-layers.js';

const roots: string[] = [];
after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

/** A small monorepo: path → file content (objects are written as JSON). */
function repo(files: Record<string, string | object>): string {
  const root = mkdtempSync(join(tmpdir(), 'check-layers-'));
  roots.push(root);
  const all: Record<string, string | object> = { 'package.json': { name: 'fixture', workspaces: ['libs/*', 'services/*'] }, ...files };
  for (const [path, content] of Object.entries(all)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), typeof content === 'string' ? content : JSON.stringify(content));
  }
  return root;
}

const lib = (name: string, dependencies: Record<string, string> = {}, devDependencies: Record<string, string> = {}) => ({
  name: `@agent-bridge/${name}`,
  exports: { '.': { 'agentbridge-source': './src/index.ts' } },
  dependencies,
  devDependencies,
});

/** A workspace package at `dir` (libs/<name>, services/<name>) whose src/index.ts is `index`. */
const workspace = (dir: string, index: string, dependencies: Record<string, string> = {}): Record<string, string | object> => ({
  [`${dir}/package.json`]: lib(dir.slice(dir.indexOf('/') + 1), dependencies),
  [`${dir}/src/index.ts`]: index,
});

const CHECK = ['--conditions=agentbridge-source', '--import', 'tsx', join(REPO_ROOT, 'scripts/check-layers.ts')];

describe('scripts/check-layers.ts', () => {
  test('the repository itself follows the package graph (every import declared and layered)', () => {
    const { problems, files } = checkLayers(REPO_ROOT);
    assert.deepEqual(problems, []);
    assert.ok(files > 150, `checked ${files} files`);
  });

  test('a lower layer importing a higher one (flags → event store) fails the check with a sentence naming the file, the import and the rule', () => {
    const root = repo({
      ...workspace('libs/flags', 'export const on = true;\n'),
      ...workspace('libs/event-store', "export * from './flag-source.js';\n", { '@agent-bridge/flags': '*' }),
      'libs/event-store/src/flag-source.ts': "import { on } from '@agent-bridge/flags';\nexport const flagOn = on;\n",
    });
    // Flags is layer 1, the event store layer 2: the event store may import flags, not the other way.
    assert.deepEqual(checkLayers(root).problems, []);
    writeFileSync(join(root, 'libs/flags/package.json'), JSON.stringify(lib('flags', { '@agent-bridge/event-store': '*' })));
    writeFileSync(join(root, 'libs/flags/src/index.ts'), "import { flagOn } from '@agent-bridge/event-store';\nexport const on = flagOn;\n");
    const result = spawnSync(process.execPath, [...CHECK, '--root', root], { encoding: 'utf8' });
    assert.equal(result.status, 1, result.stderr);
    assert.match(
      result.stderr,
      /libs\/flags\/src\/index\.ts imports '@agent-bridge\/event-store': @agent-bridge\/flags is layer 1 \(flags, observability\) and may import only lower layers, but @agent-bridge\/event-store is layer 2 \(event-store\)/,
    );
  });

  test('an undeclared package, a service importing another and production code importing the testkit each fail with their rule', () => {
    const root = repo({
      ...workspace('libs/protocol', "import { z } from 'zod';\nexport const schema = z.string();\n"),
      ...workspace('libs/testkit', 'export const kit = 1;\n'),
      'services/router/package.json': { ...lib('router', { '@agent-bridge/testkit': '*' }), exports: undefined },
      'services/router/src/main.ts': "import { kit } from '@agent-bridge/testkit';\nimport { legacy } from '@agent-bridge/legacy-poll';\nexport const x = kit + legacy;\n",
      ...workspace('services/legacy-poll', 'export const legacy = 1;\n'),
      // A test may use the testkit and a peer service, if it declares them.
      'services/legacy-poll/src/service.test.ts': "import { kit } from '@agent-bridge/testkit';\nimport { x } from '@agent-bridge/router';\nexport const y = kit + x;\n",
    });
    const { problems } = checkLayers(root);
    assert.deepEqual(problems, [
      `libs/protocol/src/index.ts imports 'zod': zod is not declared in libs/protocol/package.json; add it to "dependencies"`,
      `services/legacy-poll/src/service.test.ts imports '@agent-bridge/testkit': @agent-bridge/testkit is not declared in services/legacy-poll/package.json; add it to "devDependencies" (test code)`,
      `services/legacy-poll/src/service.test.ts imports '@agent-bridge/router': @agent-bridge/router is not declared in services/legacy-poll/package.json; add it to "devDependencies" (test code)`,
      `services/router/src/main.ts imports '@agent-bridge/testkit': libs/testkit is test-only; production code (reached from @agent-bridge/router's entry points) must not import it`,
      `services/router/src/main.ts imports '@agent-bridge/legacy-poll': a service must not import another service (@agent-bridge/legacy-poll); share the code through a lib`,
    ]);
  });

  test('a workspace package only tests import belongs in devDependencies', () => {
    const root = repo({
      ...workspace('libs/protocol', 'export const p = 1;\n'),
      ...workspace('libs/flags', 'export const f = 1;\n', { '@agent-bridge/protocol': '*' }),
      'libs/flags/src/flags.test.ts': "import { p } from '@agent-bridge/protocol';\nexport const t = p;\n",
    });
    assert.deepEqual(checkLayers(root).problems, ['libs/flags/package.json lists @agent-bridge/protocol in "dependencies" but no production code of @agent-bridge/flags imports it; move it to "devDependencies" (or drop it)']);
  });
});
