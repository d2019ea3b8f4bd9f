#!/usr/bin/env node
// Command line: dispatch to `meshwarden serve`, `eval` and `rules` (src/commands/), and the usage text.
import { readFileSync } from 'node:fs';
import { runEval, EVAL_USAGE } from './commands/eval.js';
import { RULES_USAGE, runRulesCommand } from './commands/rules.js';
import { runServe } from './commands/serve.js';
import { SERVE_OPTIONS } from './config.js';
import { ConfigError, describeError } from './errors.js';
import { DEFAULT_RULES_FILE, PACKAGE_ROOT } from './package-paths.js';

const USAGE = `meshwarden: external authorization (Envoy ext_authz v3) with OPA wasm policies

Usage:
  meshwarden serve [flags]                 serve envoy.service.auth.v3.Authorization/Check
  meshwarden eval --request FILE [flags]   decide one CheckRequest (proto JSON) and print
                                           the input document, the decision and the CheckResponse
                                           (with the embedded default rules unless --rules or --bundle)
${RULES_USAGE}
  meshwarden --help | --version

serve flags (each also as an environment variable):
${formatOptions(Object.values(SERVE_OPTIONS))}

Without --rules or --bundle, serve and eval decide with the embedded default rules
(${DEFAULT_RULES_FILE}: only the analytics service may GET /api/v1/data on the data service).

${EVAL_USAGE}
`;

/** One line per option, the columns as wide as the longest flag and variable. */
function formatOptions(specs: readonly { flag: string; env: string; help: string }[]): string {
  const flagWidth = Math.max(...specs.map((spec) => spec.flag.length));
  const envWidth = Math.max(...specs.map((spec) => spec.env.length));
  return specs.map((spec) => `  --${spec.flag.padEnd(flagWidth)} ${spec.env.padEnd(envWidth)} ${spec.help}`).join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await runServe(rest);
      case 'eval':
        return await runEval(rest);
      case 'rules':
        return await runRulesCommand(rest);
      case '--version':
      case 'version': {
        const { version } = JSON.parse(readFileSync(`${PACKAGE_ROOT}/package.json`, 'utf8')) as { version: string };
        process.stdout.write(`meshwarden ${version}\n`);
        return 0;
      }
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      default:
        process.stderr.write(`meshwarden: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`meshwarden ${command}: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`meshwarden ${command}: ${describeError(error)}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`meshwarden: ${describeError(error)}\n`);
    process.exitCode = 1;
  },
);
