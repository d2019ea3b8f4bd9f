// Differential cases of opa.runtime, as `opa eval` has it (no config file): the environment (values compared by
// digest, so a failing run prints no value), the keys and flags; the version is a known difference.
import type { Cases } from '../differential.js';

export const runtimeCases: Cases = {
  env_count: 'count(opa.runtime().env)',
  // Every variable, its value as a digest.
  env: '{k: crypto.sha256(v) | some k, v in opa.runtime().env}',
  env_path_is_string: 'is_string(opa.runtime().env.PATH)',
  env_unset: 'object.get(opa.runtime().env, "MESHWARDEN_DIFFERENTIAL_UNSET_VARIABLE", "unset")',
  // sorted: the wasm module dumps a set of strings in its own order, Go sorts it (so for any set, not only this one).
  keys: 'sort(object.keys(opa.runtime()))',
  no_config: 'object.get(opa.runtime(), "config", "none")',
  authorization_enabled: 'opa.runtime().authorization_enabled',
  skip_known_schema_check: 'opa.runtime().skip_known_schema_check',
  version: 'opa.runtime().version',
  // The binary's VCS revision on Go's side, "" on meshwarden's: its type is what both share.
  commit: 'is_string(opa.runtime().commit)',
  same_twice: { body: 'a := opa.runtime(); b := opa.runtime(); x := a == b' },
};
