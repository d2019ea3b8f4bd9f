// opa.runtime: the process's runtime as OPA describes its own (v1/runtime/info and v1/topdown/runtime.go): the
// environment, the configuration file without its secrets, the version, and two flags of OPA's REST API.
import { fail, isObject, type BuiltinTable, type JsonObject } from './builtin.js';

export interface OpaRuntimeFacts {
  /** What `version` says: meshwarden's own version (it is not OPA, and a policy comparing OPA versions should know). */
  readonly version: string;
  /** What `commit` says: the build's VCS revision, "" when unknown (as OPA built without VCS information says). */
  readonly commit: string;
  /**
   * The OPA config file as read (after ${VAR} substitution). `opa run` always has one (`{}` without a file);
   * `opa eval` has none, and then `config` is absent, as here when this is undefined.
   */
  readonly config?: JsonObject;
  /** The environment, read once as OPA reads it once at start-up (defaults to process.env). */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** What the builtin answers: the document, or why OPA's purge of the config fails (the call is then undefined). */
type Answer = { readonly value: JsonObject } | { readonly error: string };

// One runtime per process, as OPA has one manager.Info: set by runtime.ts when it builds the runtime.
let answer: Answer | undefined;

/** Describes the process's runtime to every policy's opa.runtime() from now on. */
export function setOpaRuntime(facts: OpaRuntimeFacts): void {
  answer = describe(facts);
}

function describe(facts: OpaRuntimeFacts): Answer {
  const env: JsonObject = {};
  for (const [name, value] of Object.entries(facts.env ?? process.env)) if (value !== undefined) env[name] = value;
  let config: JsonObject | undefined;
  try {
    config = facts.config === undefined ? undefined : withoutSecrets(structuredClone(facts.config));
  } catch (error) {
    return { error: (error as Error).message };
  }
  // Keys in order: the wasm module keeps an object's insertion order where Go's are sorted (object.keys).
  return {
    value: {
      // OPA's REST API flags: meshwarden serves no such API, so neither is on.
      authorization_enabled: false,
      commit: facts.commit,
      ...(config === undefined ? {} : { config }),
      env,
      skip_known_schema_check: false,
      version: facts.version,
    },
  };
}

/** activeConfig: credentials of every service and the key material of every key are left out, as OPA does. */
function withoutSecrets(config: JsonObject): JsonObject {
  const services = config['services'];
  if (services !== undefined && services !== null) {
    if (!Array.isArray(services) && !isObject(services)) throw new Error('illegal service config type');
    for (const service of Object.values(services)) removeKeys(service, ['credentials']);
  }
  const keys = config['keys'];
  if (keys !== undefined && keys !== null) {
    if (!isObject(keys)) throw new Error('illegal keys config type');
    for (const key of Object.values(keys)) removeKeys(key, ['key', 'private_key']);
  }
  return config;
}

function removeKeys(value: unknown, names: readonly string[]): void {
  if (!isObject(value)) throw new Error('type assertion error');
  for (const name of names) delete value[name];
}

// Until runtime.ts describes the process (a test building host builtins alone), the runtime is `opa eval`'s:
// no config, meshwarden's version unknown here.
const UNDESCRIBED: OpaRuntimeFacts = { version: '', commit: '' };

export const opaRuntimeBuiltins: BuiltinTable = {
  'opa.runtime': () => {
    answer ??= describe(UNDESCRIBED);
    if ('error' in answer) fail(answer.error);
    return answer.value;
  },
};
