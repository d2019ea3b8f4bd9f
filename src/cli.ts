#!/usr/bin/env node
// Command line: `meshwarden serve`, `meshwarden eval` and `meshwarden rules`.
import { readFileSync } from 'node:fs';
import { startCheck } from './check/check.js';
import { createCheckCodec } from './envoy/codec.js';
import { grpcBodyDecoderOf, identityOptionsOf, parseServeConfig, SERVE_OPTIONS, type ServeConfig } from './config.js';
import { DEFAULT_RULES_FILE, PACKAGE_ROOT } from './package-paths.js';
import { ConfigError, describeError } from './errors.js';
import { policyPlanOf, runServe } from './commands/serve.js';
import { loadPolicy, type Policy } from './check/policy.js';
import { fromProtoJson } from './envoy/protojson.js';
import { CONVERSION_OPTIONS, loadEnvoyApi } from './envoy/protos.js';
import { fromStruct } from './check/response.js';
import { RULES_USAGE, runRulesCommand } from './commands/rules.js';

const USAGE = `meshwarden: external authorization (Envoy ext_authz v3) with OPA wasm policies

Usage:
  meshwarden serve [flags]                 serve envoy.service.auth.v3.Authorization/Check
  meshwarden eval --request FILE [flags]   decide one CheckRequest (proto JSON) and print
                                           the input document, the decision and the CheckResponse
                                           (with the embedded default rules unless --rules or --bundle)
${RULES_USAGE}
  meshwarden --help | --version

serve flags (each also as an environment variable):
${Object.values(SERVE_OPTIONS)
  .map((spec) => `  --${spec.flag.padEnd(20)} ${spec.env.padEnd(30)} ${spec.help}`)
  .join('\n')}

Without --rules or --bundle, serve and eval decide with the embedded default rules
(${DEFAULT_RULES_FILE}: only the analytics service may GET /api/v1/data on the data service).

eval flags: --request FILE, and the serve settings that shape a decision (--rules, --bundle, --data,
--decision, --shadow, --skip-body-parse, --proto-descriptor, --trust-domain…, --xfcc, --config).
`;

const EVAL_VERIFY_BUDGET_MS = 5_000;

/**
 * `preparePolicy` adjusts the loaded policy before the request is decided (`rules explain` sets its data);
 * `explain`, given the input document, returns what is printed as "explanation" (`rules explain`).
 */
async function runEval(
  argv: readonly string[],
  preparePolicy: (policy: Policy) => Policy = (policy) => policy,
  explain?: (inputJson: string) => unknown,
): Promise<number> {
  // `eval` takes --request FILE and the serve settings that shape a decision (policy, identity, shadow).
  const problems: string[] = [];
  const rest: string[] = [];
  let requestPath: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--request') requestPath = argv[++i];
    else if (arg.startsWith('--request=')) requestPath = arg.slice('--request='.length);
    else rest.push(arg);
  }
  if (requestPath === undefined || requestPath === '') problems.push('--request FILE is required');
  let config: ServeConfig | undefined;
  try {
    config = parseServeConfig(rest, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
  }
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);

  let requestJson: unknown;
  try {
    requestJson = JSON.parse(readFileSync(requestPath!, 'utf8'));
  } catch (error) {
    throw new ConfigError([`${requestPath}: not a readable JSON CheckRequest: ${describeError(error)}`]);
  }
  const api = loadEnvoyApi();
  let wire: Buffer;
  try {
    wire = Buffer.from(api.CheckRequest.encode(fromProtoJson(api.CheckRequest, requestJson)).finish());
  } catch (error) {
    throw new ConfigError([`${requestPath}: not a CheckRequest: ${describeError(error)}`]);
  }
  const identity = identityOptionsOf(config);
  const plan = policyPlanOf(config, identity.trustDomains);
  const loaded = await loadPolicy(plan.source);
  const policy = preparePolicy(plan.prepare === undefined ? loaded : plan.prepare(loaded));
  // The request takes the same path as on the wire: encoded, then decoded by the server's codec.
  const codec = createCheckCodec(api, Number.MAX_SAFE_INTEGER);
  // Bearer tokens are verified as in serve; one request from the command line can wait for its keys.
  const outcome = await startCheck(codec.decode(wire), {
    policy: () => policy,
    shadow: config.shadow,
    skipBodyParse: config.skipBodyParse,
    grpcDescriptor: grpcBodyDecoderOf(config),
    validStatuses: api.envoyStatusCodes,
    identity,
  }, EVAL_VERIFY_BUDGET_MS);
  const decoded = api.CheckResponse.toObject(api.CheckResponse.decode(codec.encode(outcome.response)), {
    ...CONVERSION_OPTIONS,
    enums: String,
    json: true,
  });
  decoded['dynamicMetadata'] = fromStruct(decoded['dynamicMetadata']);
  const explanation = explain === undefined ? undefined : outcome.inputJson === undefined ? null : explain(outcome.inputJson);
  const printed =
    '{"policy":' + JSON.stringify({ source: policy.source, ...(plan.rulesFile === undefined ? {} : { rules: plan.rulesFile }), decision: policy.decision, revision: policy.revision }) +
    ',"input":' + (outcome.inputJson ?? 'null') +
    ',"result":' + JSON.stringify(outcome.resultSet ?? null) +
    ',"reason":' + JSON.stringify(outcome.reason) +
    ',"allowed":' + String(outcome.allowed) +
    (outcome.error === undefined ? '' : ',"error":' + JSON.stringify(outcome.error)) +
    (explanation === undefined ? '' : ',"explanation":' + JSON.stringify(explanation)) +
    ',"response":' + JSON.stringify(decoded) + '}';
  process.stdout.write(JSON.stringify(JSON.parse(printed), null, 2) + '\n');
  return 0;
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
        return await runRulesCommand(rest, runEval);
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
