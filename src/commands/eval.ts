// `meshwarden eval`: decide one CheckRequest (proto JSON) as serve would, and print the input document, the
// decision and the CheckResponse.
import { readFileSync } from 'node:fs';
import { fullInputOf, startCheck } from '../check/check.js';
import { internalErrorResponse } from '../check/answer.js';
import type { Policy } from '../check/policy.js';
import { parseServeConfig, type ServeConfig } from '../config.js';
import { createCheckCodec } from '../envoy/codec.js';
import { fromProtoJson } from '../envoy/protojson.js';
import { CONVERSION_OPTIONS, loadEnvoyApi } from '../envoy/protos.js';
import { fromStruct } from '../envoy/struct.js';
import { ConfigError, describeError } from '../errors.js';
import { createRuntime, type Runtime } from '../runtime.js';
import { splitArguments } from './arguments.js';
import { formatJson } from './format-json.js';

export const EVAL_USAGE = `eval flags: --request FILE, --full-input (print opa-envoy-plugin's whole input document as "full_input" too,
also when the rules library reads its smaller one), and the serve settings that shape a decision (--rules,
--bundle, --data, --decision, --shadow, --skip-body-parse, --proto-descriptor, --trust-domain…, --xfcc, --config).`;

// One request from the command line can wait this long for the keys of its bearer token.
const EVAL_VERIFY_BUDGET_MS = 5_000;

/** What `rules explain` adds: the explanation printed for the input document the policy was given. */
export type Explain = (inputJson: string) => unknown;

/** The serve settings of `settings` as a config, adding their problems to `problems` (undefined when there are any). */
export function configOf(settings: readonly string[], problems: string[]): ServeConfig | undefined {
  try {
    return parseServeConfig(settings, process.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems.push(...error.problems);
    return undefined;
  }
}

/** A CheckRequest file (proto JSON) as Envoy would send it: encoded, to take the server's own decoding path. */
export function readCheckRequest(path: string): Buffer {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError([`${path}: not a readable JSON CheckRequest: ${describeError(error)}`]);
  }
  const { CheckRequest } = loadEnvoyApi();
  try {
    return Buffer.from(CheckRequest.encode(fromProtoJson(CheckRequest, json)).finish());
  } catch (error) {
    throw new ConfigError([`${path}: not a CheckRequest: ${describeError(error)}`]);
  }
}

export async function runEval(argv: readonly string[]): Promise<number> {
  const { own, operands, settings } = splitArguments(argv, ['request'], ['full-input']);
  const problems: string[] = [];
  const requestPath = own.get('request');
  if (requestPath === undefined || requestPath === '') problems.push('--request FILE is required');
  const fullInput = own.get('full-input');
  if (fullInput !== undefined && fullInput !== 'true' && fullInput !== 'false') problems.push(`--full-input: "${fullInput}" is not true or false`);
  // Operands go on with the settings, which report them as unexpected arguments.
  const config = configOf([...settings, ...operands], problems);
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
  const wire = readCheckRequest(requestPath!);
  if (config.opa !== undefined && config.opa.bundles.length > 0) {
    throw new ConfigError([`${config.configFile}: bundles: eval decides with a local policy; serve downloads the config file's bundles (give eval the bundle with --bundle)`]);
  }
  const runtime = await createRuntime(config);
  return printDecision(runtime, runtime.policies.current!, wire, undefined, fullInput === 'true');
}

/** Decides the encoded request with `policy` as serve would, and prints what happened (and `explain`'s view). */
export async function printDecision(runtime: Runtime, policy: Policy, wire: Buffer, explain?: Explain, fullInput = false): Promise<number> {
  const { api } = runtime;
  // The request takes the same path as on the wire: decoded by the server's codec.
  const codec = createCheckCodec(api, { maxRequestBytes: Number.MAX_SAFE_INTEGER, fallbackResponse: internalErrorResponse });
  // Bearer tokens are verified as in serve.
  const request = codec.decode(wire);
  const outcome = await startCheck(request, { ...runtime.checkContext, policy: () => policy }, EVAL_VERIFY_BUDGET_MS);
  const decoded = api.CheckResponse.toObject(api.CheckResponse.decode(codec.encode(outcome.response)), {
    ...CONVERSION_OPTIONS,
    enums: String,
    json: true,
  });
  decoded['dynamicMetadata'] = fromStruct(decoded['dynamicMetadata']);
  const explanation = explain === undefined ? undefined : outcome.inputJson === undefined ? null : explain(outcome.inputJson);
  // The whole document, when the input was built at all (a request denied before the policy has none).
  const fullInputJson = fullInput && outcome.inputJson !== undefined ? fullInputOf(request, runtime.checkContext, outcome.tokens) : undefined;
  const rulesFile = runtime.plan.rulesFile;
  const printed =
    '{"policy":' + JSON.stringify({ source: policy.source, ...(rulesFile === undefined ? {} : { rules: rulesFile }), decision: policy.decision, revision: policy.revision }) +
    ',"input":' + (outcome.inputJson ?? 'null') +
    (fullInputJson === undefined ? '' : ',"full_input":' + fullInputJson) +
    ',"result":' + JSON.stringify(outcome.resultSet ?? null) +
    ',"reason":' + JSON.stringify(outcome.reason) +
    ',"allowed":' + String(outcome.allowed) +
    (outcome.error === undefined ? '' : ',"error":' + JSON.stringify(outcome.error)) +
    (explanation === undefined ? '' : ',"explanation":' + JSON.stringify(explanation)) +
    ',"response":' + JSON.stringify(decoded) + '}';
  process.stdout.write(formatJson(printed) + '\n');
  return 0;
}
