// istio/ambient/waypoint-peer-principal.yaml: the EnvoyFilter reads as istiod reads it (Istio's envoy_filter.proto,
// strictly; its patches against Envoy's protos), a mistake in it is caught, and it writes exactly the metadata
// that the setting the guide gives meshwarden reads (parsed by meshwarden's own config parser).
import { describe, expect, it } from 'vitest';
import { parseServeConfig, SERVE_OPTIONS } from '../../src/config.js';
import { envoyFilterProblems } from './helpers/envoy-filter.js';
import { GUIDE, the } from './helpers/manifests.js';
import { clone, readRepoFile } from './helpers/yaml.js';

const FILE = 'istio/ambient/waypoint-peer-principal.yaml';
const filter = () => the(FILE, 'EnvoyFilter', 'meshwarden-peer-principal');
const VARIABLE = SERVE_OPTIONS.sourcePrincipalMetadata.env;

/** The `kubectl set env` value a text gives meshwarden's Deployment for the metadata path. */
function settingsIn(text: string): string[] {
  return [...text.matchAll(new RegExp(`kubectl -n meshwarden set env deployment/meshwarden ${VARIABLE}=(\\S+)`, 'g'))].map((match) => match[1]!);
}

describe('the ambient EnvoyFilter', () => {
  it('reads strictly as Istio 1.29 and Envoy read it', () => {
    expect(envoyFilterProblems(filter()['spec'])).toEqual([]);
  });

  it.each([
    ['an unknown spec field', (spec: any) => (spec.configPatchez = [])],
    ['an unknown applyTo', (spec: any) => (spec.configPatches[0].applyTo = 'HTTP_FILTERS')],
    ['a misspelled Lua field', (spec: any) => (spec.configPatches[0].patch.value.typed_config.default_source_cod = spec.configPatches[0].patch.value.typed_config.default_source_code)],
    ['an @type Envoy does not have', (spec: any) => (spec.configPatches[0].patch.value.typed_config['@type'] = 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Luaa')],
    ['an ext_authz field that does not exist', (spec: any) => (spec.configPatches[1].patch.value.typed_config.metadata_namespaces = ['meshwarden.peer'])],
    ['metadata namespaces that are not a list of strings', (spec: any) => (spec.configPatches[1].patch.value.typed_config.metadata_context_namespaces = [{ name: 'meshwarden.peer' }])],
  ])('is caught with %s', (_what, mutate) => {
    const spec = clone(filter()['spec']);
    mutate(spec);
    expect(envoyFilterProblems(spec)).not.toEqual([]);
  });

  it('puts the Lua filter before ext_authz and makes ext_authz send its namespace, on the waypoint of the data namespace', () => {
    const object = filter();
    expect(object.metadata.namespace).toBe(the('istio/data-authz.yaml', 'AuthorizationPolicy', 'data-meshwarden').metadata.namespace);
    expect(object['spec'].targetRefs).toEqual([{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' }]);
    const [lua, extAuthz] = object['spec'].configPatches;
    for (const patch of [lua, extAuthz]) expect(patch.match.listener.filterChain.filter.subFilter.name).toBe('envoy.filters.http.ext_authz');
    expect(lua.patch.operation).toBe('INSERT_BEFORE');
    expect(extAuthz.patch.operation).toBe('MERGE');
  });

  it('writes the namespace and key the guide tells meshwarden to read, and ext_authz sends that namespace', () => {
    const settings = settingsIn(readRepoFile(GUIDE));
    expect(settings.length).toBeGreaterThan(0);
    expect(settingsIn(readRepoFile(FILE))).toEqual([settings[0]]);
    for (const value of settings) {
      const path = parseServeConfig([], { [VARIABLE]: value }).sourcePrincipalMetadata!;
      expect(path.keys).toHaveLength(1);
      const [lua, extAuthz] = filter()['spec'].configPatches;
      const code: string = lua.patch.value.typed_config.default_source_code.inline_string;
      expect(code).toContain(`dynamicMetadata():set("${path.namespace}", "${path.keys[0]}", principal)`);
      expect(extAuthz.patch.value.typed_config.metadata_context_namespaces).toEqual([path.namespace]);
    }
  });

  it('takes the principal from the filter state the waypoint sets from the tunnel, never from a header', () => {
    const code: string = filter()['spec'].configPatches[0].patch.value.typed_config.default_source_code.inline_string;
    expect(code).toContain('filterState():get("io.istio.peer_principal")');
    expect(code).not.toMatch(/headers\(\)|:headers|body\(/);
  });
});
