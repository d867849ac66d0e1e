import { runBridgectl } from './cli.js';

process.exitCode = await runBridgectl(process.argv.slice(2), process.env, {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
});
