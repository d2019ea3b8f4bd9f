#!/usr/bin/env node
// Command line: dispatch to `meshwarden serve`, `eval` and `rules` (src/commands/), and the usage text.
import { readFileSync } from 'node:fs';
import { runEval, EVAL_USAGE } from './commands/eval.js';
import { RULES_SUBCOMMAND_USAGE, RULES_USAGE, runRulesCommand } from './commands/rules.js';
import { SERVE_OPTIONS } from './config.js';
import { ConfigError, describeError } from './errors.js';
import { DEFAULT_RULES_FILE, PACKAGE_ROOT } from './package-paths.js';
import { runServeCommand } from './workers/serve-command.js';

const SERVE_FLAGS = formatOptions(Object.values(SERVE_OPTIONS));

const SERVE_USAGE = `Usage: meshwarden serve [flags]

Serves envoy.service.auth.v3.Authorization/Check over gRPC (and Envoy's HTTP ext_authz with --http-addr), with
the embedded default rules (${DEFAULT_RULES_FILE}) unless --rules or --bundle is given.
SIGHUP reloads the policy; SIGTERM and SIGINT drain in-flight calls and exit 0. A bad setting, a policy that
does not load or an address that cannot be listened on stops start-up with exit code 2.

Flags (each also an environment variable; a flag wins over the variable, both over --config):
${SERVE_FLAGS}
`;

const EVAL_HELP = `Usage: meshwarden eval --request FILE [flags]

Decides one CheckRequest (proto JSON, as in examples/requests/) as serve would, and prints the policy, the input
document, the raw result, the reason and the CheckResponse, with the embedded default rules unless --rules or
--bundle is given.

${EVAL_USAGE}
`;

const RULES_HELP = `Usage:
${RULES_USAGE}

meshwarden rules SUBCOMMAND --help shows one subcommand.
`;

const USAGE = `meshwarden: external authorization (Envoy ext_authz v3) with OPA wasm policies

Usage:
  meshwarden serve [flags]                 serve envoy.service.auth.v3.Authorization/Check
  meshwarden eval --request FILE [flags]   decide one CheckRequest (proto JSON) and print
                                           the input document, the decision and the CheckResponse
                                           (with the embedded default rules unless --rules or --bundle)
${RULES_USAGE}
  meshwarden --help | --version

serve flags (each also as an environment variable):
${SERVE_FLAGS}

Without --rules or --bundle, serve and eval decide with the embedded default rules
(${DEFAULT_RULES_FILE}: only the analytics service may GET /api/v1/data on the data service).

${EVAL_USAGE}
`;

const HELP_FLAGS = new Set(['--help', '-h']);

/** The usage a `--help` among these arguments asks for, or undefined when they ask for none. */
function helpFor(command: string, rest: readonly string[]): string | undefined {
  // Only before a `--`, and never as the value of a flag (`--rules --help` is a file named --help: rare enough).
  const end = rest.indexOf('--');
  const asked = (end === -1 ? rest : rest.slice(0, end)).some((arg) => HELP_FLAGS.has(arg));
  switch (command) {
    case 'serve':
      return asked ? SERVE_USAGE : undefined;
    case 'eval':
      return asked ? EVAL_HELP : undefined;
    case 'rules': {
      const subcommand = rest[0];
      if (subcommand !== undefined && subcommand in RULES_SUBCOMMAND_USAGE) return asked ? RULES_SUBCOMMAND_USAGE[subcommand as keyof typeof RULES_SUBCOMMAND_USAGE] : undefined;
      return asked || subcommand === 'help' ? RULES_HELP : undefined;
    }
    default:
      return undefined;
  }
}

/** Where a mistake's message points for the usage. */
function usageHint(command: string | undefined, rest: readonly string[]): string {
  if (command === 'rules' && rest[0] !== undefined && rest[0] in RULES_SUBCOMMAND_USAGE) return `meshwarden rules ${rest[0]} --help`;
  return command === 'serve' || command === 'eval' || command === 'rules' ? `meshwarden ${command} --help` : 'meshwarden --help';
}

/** One line per option, the columns as wide as the longest flag and variable. */
function formatOptions(specs: readonly { flag: string; env: string; help: string }[]): string {
  const flagWidth = Math.max(...specs.map((spec) => spec.flag.length));
  const envWidth = Math.max(...specs.map((spec) => spec.env.length));
  return specs.map((spec) => `  --${spec.flag.padEnd(flagWidth)} ${spec.env.padEnd(envWidth)} ${spec.help}`).join('\n');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  const help = command === undefined ? undefined : helpFor(command, rest);
  if (help !== undefined) {
    process.stdout.write(help);
    return 0;
  }
  try {
    switch (command) {
      case 'serve':
        return await runServeCommand(rest);
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
        // A mistake (no command): the usage goes to stderr, with the exit code of a bad command line.
        process.stderr.write(USAGE);
        return 2;
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE);
        return 0;
      default:
        process.stderr.write(`meshwarden: unknown command "${command}"\n\n${USAGE}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`meshwarden ${command}: ${error.message}\n`);
      // A command-line mistake is pointed to the usage; a start-up failure (a port in use) stays one line.
      if (error.problems.some(isUsageMistake)) process.stderr.write(`(${usageHint(command, rest)} shows the usage)\n`);
      return 2;
    }
    process.stderr.write(`meshwarden ${command}: ${describeError(error)}\n`);
    return 1;
  }
}

/** Problems that are about the command line itself, as config.ts and the subcommands word them. */
function isUsageMistake(problem: string): boolean {
  return /unknown flag|unexpected argument|is required|needs a FILE|unknown subcommand|a subcommand is required|one rules FILE at a time/.test(problem);
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
