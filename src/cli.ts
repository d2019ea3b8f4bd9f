#!/usr/bin/env node
// Command line: `meshwarden serve` and `meshwarden eval`.
import { readFileSync } from 'node:fs';
import { runCheck } from './check.js';
import { createCheckCodec } from './codec.js';
import { readRaw, SERVE_OPTIONS } from './config.js';
import { PACKAGE_ROOT } from './defaults.js';
import { ConfigError, describeError } from './errors.js';
import { policySourceOf, runServe } from './main.js';
import { loadPolicy } from './policy.js';
import { fromProtoJson } from './protojson.js';
import { CONVERSION_OPTIONS, loadEnvoyApi } from './protos.js';
import { fromStruct } from './response.js';

const USAGE = `meshwarden: external authorization (Envoy ext_authz v3) with OPA wasm policies

Usage:
  meshwarden serve [flags]                 serve envoy.service.auth.v3.Authorization/Check
  meshwarden eval --request FILE [flags]   decide one CheckRequest (proto JSON) and print
                                           the input document, the decision and the CheckResponse
  meshwarden --help | --version

serve flags (each also as an environment variable):
${Object.values(SERVE_OPTIONS)
  .map((spec) => `  --${spec.flag.padEnd(20)} ${spec.env.padEnd(30)} ${spec.help}`)
  .join('\n')}

eval flags: --request FILE, and --bundle, --data, --decision, --shadow, --skip-body-parse as for serve.
`;

async function runEval(argv: readonly string[]): Promise<number> {
  const problems: string[] = [];
  const specs = {
    request: { flag: 'request', env: 'MESHWARDEN_EVAL_REQUEST', kind: 'string' as const, help: '' },
    bundle: SERVE_OPTIONS.bundle,
    data: SERVE_OPTIONS.data,
    decision: SERVE_OPTIONS.decision,
    shadow: SERVE_OPTIONS.shadow,
    skipBodyParse: SERVE_OPTIONS.skipBodyParse,
  };
  const raw = readRaw(argv, {}, specs, problems);
  const requestPath = raw.get('request')?.value;
  if (requestPath === undefined) problems.push('--request FILE is required');
  if (problems.length > 0) throw new ConfigError(problems);

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
  const policy = await loadPolicy(
    policySourceOf({ bundle: raw.get('bundle')?.value, data: raw.get('data')?.value, decision: raw.get('decision')?.value }),
  );
  const isTrue = (key: 'shadow' | 'skipBodyParse'): boolean => ['true', '1', 'yes'].includes(raw.get(key)?.value ?? 'false');
  // The request takes the same path as on the wire: encoded, then decoded by the server's codec.
  const codec = createCheckCodec(api, Number.MAX_SAFE_INTEGER);
  const outcome = runCheck(codec.decode(wire), {
    policy: () => policy,
    shadow: isTrue('shadow'),
    skipBodyParse: isTrue('skipBodyParse'),
    validStatuses: api.envoyStatusCodes,
  });
  const decoded = api.CheckResponse.toObject(api.CheckResponse.decode(codec.encode(outcome.response)), {
    ...CONVERSION_OPTIONS,
    enums: String,
    json: true,
  });
  decoded['dynamicMetadata'] = fromStruct(decoded['dynamicMetadata']);
  const printed =
    '{"policy":' + JSON.stringify({ source: policy.source, decision: policy.decision, revision: policy.revision }) +
    ',"input":' + (outcome.inputJson ?? 'null') +
    ',"result":' + JSON.stringify(outcome.resultSet ?? null) +
    ',"reason":' + JSON.stringify(outcome.reason) +
    ',"allowed":' + String(outcome.allowed) +
    (outcome.error === undefined ? '' : ',"error":' + JSON.stringify(outcome.error)) +
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
