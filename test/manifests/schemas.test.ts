// Every Kubernetes and Istio object under istio/ (and in the guide's YAML blocks) against the schemas of the
// kubernetes-models packages, strictly: wrong types, bad enum values and unknown or misspelled fields fail.
import { describe, expect, it } from 'vitest';
import { assertValidObject, validateObject } from './helpers/kubernetes.js';
import {
  allObjects,
  GUIDE,
  markdownYamlBlocks,
  OBJECT_FILES,
  objectsIn,
  PATCH_FILES,
  strategicMerge,
  the,
  yamlFilesOnDisk,
  type K8sObject,
} from './helpers/manifests.js';
import { readIstioOperatorSpec } from './helpers/mesh-config.js';
import { clone, loadYamlFile, parseYamlDocuments, readRepoFile } from './helpers/yaml.js';

const CLUSTER_SCOPED = new Set(['Namespace']);

describe('manifest inventory', () => {
  it('lists every YAML file under istio/', () => {
    expect(yamlFilesOnDisk()).toEqual([...OBJECT_FILES, ...PATCH_FILES].sort());
  });

  it('has the objects each file promises', () => {
    const kinds = (file: string) => objectsIn(file).map((entry) => `${entry.object.kind}/${entry.object.metadata.name}`);
    expect(kinds('istio/mesh-config.yaml')).toEqual(['IstioOperator/meshwarden-providers']);
    expect(kinds('istio/meshwarden.yaml')).toEqual([
      'Namespace/meshwarden',
      'ServiceAccount/meshwarden',
      'Deployment/meshwarden',
      'Service/meshwarden',
      'PodDisruptionBudget/meshwarden',
      'HorizontalPodAutoscaler/meshwarden',
    ]);
    expect(kinds('istio/data-authz.yaml')).toEqual(['AuthorizationPolicy/data-meshwarden', 'PeerAuthentication/default']);
    expect(kinds('istio/admin-metrics.yaml')).toEqual(['AuthorizationPolicy/meshwarden-admin']);
    expect(kinds('istio/in-pod/mesh-config.yaml')).toEqual(['IstioOperator/meshwarden-providers']);
    expect(kinds('istio/in-pod/data.yaml')).toEqual(['ServiceAccount/data', 'Service/data', 'Deployment/data']);
    expect(kinds('istio/in-pod/service-entry.yaml')).toEqual(['ServiceEntry/meshwarden-local']);
    expect(kinds('istio/in-pod/data-authz.yaml')).toEqual(['AuthorizationPolicy/data-meshwarden', 'PeerAuthentication/default']);
    expect(kinds('istio/ambient/waypoint-peer-principal.yaml')).toEqual(['EnvoyFilter/meshwarden-peer-principal']);
  });

  it('names a namespace on every namespaced object, so `kubectl apply -f` needs no -n', () => {
    for (const { where, object } of allObjects()) {
      if (CLUSTER_SCOPED.has(object.kind)) continue;
      expect(object.metadata.namespace, where).toMatch(/^[a-z0-9-]+$/);
    }
  });
});

describe('every object matches its schema', () => {
  for (const { where, object } of allObjects()) {
    it(`${where}: ${object.apiVersion} ${object.kind} ${object.metadata?.name}`, () => {
      assertValidObject(object, where);
      if (object.kind === 'IstioOperator') readIstioOperatorSpec(object['spec']);
    });
  }

  /** meshwarden.yaml's Deployment with a patch file merged in, checked against the schema: its pod, container and env. */
  function patchedDeployment(file: string) {
    const [patch] = loadYamlFile(file);
    const patched = strategicMerge(the('istio/meshwarden.yaml', 'Deployment'), patch!.value) as K8sObject;
    assertValidObject(patched, `meshwarden.yaml Deployment + ${file}`);
    const pod = patched['spec'].template.spec;
    const container = pod.containers.find((c: { name: string }) => c.name === 'meshwarden');
    const env: Record<string, string> = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    return { pod, container, env };
  }

  it('the shadow-mode patch applied to the Deployment still matches the schema', () => {
    const { pod, container, env } = patchedDeployment('istio/shadow-patch.yaml');
    expect(env).toMatchObject({ MESHWARDEN_SHADOW: 'true', MESHWARDEN_BUNDLE: '/policies/bundle.tar.gz' });
    // The bundle path lies in the mounted ConfigMap volume, and the mount is read-only.
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'policy');
    expect(env['MESHWARDEN_BUNDLE'].startsWith(`${mount.mountPath}/`)).toBe(true);
    expect(mount.readOnly).toBe(true);
    expect(pod.volumes.find((v: { name: string }) => v.name === 'policy').configMap.name).toBe('meshwarden-policy');
    // The patch merged into the existing container instead of adding one.
    expect(pod.containers).toHaveLength(1);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it('the rules patch applied to the Deployment still matches the schema', () => {
    const { pod, container, env } = patchedDeployment('istio/rules-patch.yaml');
    expect(env['MESHWARDEN_RULES']).toBe('/etc/meshwarden/rules/rules.yaml');
    const mount = container.volumeMounts.find((m: { name: string }) => m.name === 'rules');
    expect(mount).toEqual({ name: 'rules', mountPath: '/etc/meshwarden/rules', readOnly: true });
    expect(pod.volumes.find((v: { name: string }) => v.name === 'rules')).toEqual({ name: 'rules', configMap: { name: 'meshwarden-rules' } });
    // The patch merged into the existing container and kept its volumes.
    expect(pod.containers).toHaveLength(1);
    expect(container.volumeMounts.map((m: { name: string }) => m.name).sort()).toEqual(['rules', 'tmp']);
    expect(container.securityContext.readOnlyRootFilesystem).toBe(true);
  });

  it(`the YAML blocks in ${GUIDE} are valid objects`, () => {
    const blocks = markdownYamlBlocks(GUIDE);
    expect(blocks.length).toBeGreaterThan(0);
    for (const { where, value } of blocks) assertValidObject(value, where);
  });
});

// Mutated copies prove the validation above would catch mistakes.
describe('the validation rejects broken manifests', () => {
  const deployment = () => clone(the('istio/meshwarden.yaml', 'Deployment'));
  const container = (object: K8sObject) => object['spec'].template.spec.containers[0];

  it('an unknown field in a container', () => {
    const object = deployment();
    container(object).imagee = 'meshwarden:latest';
    expect(validateObject(object).unknownFields).toEqual(['/spec/template/spec/containers/0/imagee']);
  });

  it('a misspelled securityContext field (readOnlyRootFileSystem)', () => {
    const object = deployment();
    const securityContext = container(object).securityContext;
    securityContext.readOnlyRootFileSystem = securityContext.readOnlyRootFilesystem;
    delete securityContext.readOnlyRootFilesystem;
    expect(validateObject(object).unknownFields).toEqual(['/spec/template/spec/containers/0/securityContext/readOnlyRootFileSystem']);
  });

  it('a misspelled field at the top of a spec', () => {
    const object = deployment();
    object['spec'].replica = 2;
    expect(validateObject(object).unknownFields).toEqual(['/spec/replica']);
  });

  it('a string where an integer belongs', () => {
    const object = deployment();
    object['spec'].replicas = '2';
    expect(validateObject(object).schemaErrors.join()).toMatch(/spec\/replicas must be integer/);
  });

  it('a gRPC probe without a port, and one on a named port (gRPC probes take numbers only)', () => {
    const object = deployment();
    delete container(object).readinessProbe.grpc.port;
    container(object).livenessProbe.grpc.port = 'grpc';
    const errors = validateObject(object).schemaErrors.join();
    expect(errors).toMatch(/readinessProbe\/grpc must have required property '?port/);
    expect(errors).toMatch(/livenessProbe\/grpc\/port must be integer/);
  });

  it('a Service port that is not a number, and an unknown port field', () => {
    const object = clone(the('istio/meshwarden.yaml', 'Service'));
    object['spec'].ports[0].port = '9191';
    object['spec'].ports[0].appProtcol = 'grpc';
    const result = validateObject(object);
    expect(result.schemaErrors.join()).toMatch(/ports\/0\/port must be integer/);
    expect(result.unknownFields).toEqual(['/spec/ports/0/appProtcol']);
  });

  it('a PodDisruptionBudget minAvailable that is neither integer nor string', () => {
    const object = clone(the('istio/meshwarden.yaml', 'PodDisruptionBudget'));
    object['spec'].minAvailable = true;
    expect(validateObject(object).schemaErrors).not.toEqual([]);
  });

  it('an HPA metric field misspelled', () => {
    const object = clone(the('istio/meshwarden.yaml', 'HorizontalPodAutoscaler'));
    const target = object['spec'].metrics[0].resource.target;
    target.averageUtilisation = target.averageUtilization;
    delete target.averageUtilization;
    expect(validateObject(object).unknownFields).toEqual(['/spec/metrics/0/resource/target/averageUtilisation']);
  });

  it('an AuthorizationPolicy with a bad action, a misspelled field and a misspelled rule key', () => {
    const object = clone(the('istio/data-authz.yaml', 'AuthorizationPolicy'));
    object['spec'].action = 'custom';
    object['spec'].provider.nam = 'meshwarden';
    object['spec'].rules[0].form = [];
    const result = validateObject(object);
    expect(result.schemaErrors.join()).toMatch(/action must be equal to one of the allowed values/);
    expect(result.unknownFields.sort()).toEqual(['/spec/provider/nam', '/spec/rules/0/form']);
  });

  it('a PeerAuthentication mode that does not exist', () => {
    const object = clone(the('istio/data-authz.yaml', 'PeerAuthentication'));
    object['spec'].mtls.mode = 'STRICTLY';
    expect(validateObject(object).schemaErrors.join()).toMatch(/mtls\/mode must be equal to one of the allowed values/);
  });

  it('a ServiceEntry with a string port number, a bad resolution and a misspelled field', () => {
    const object = clone(the('istio/in-pod/service-entry.yaml', 'ServiceEntry'));
    object['spec'].ports[0].number = '9191';
    object['spec'].resolution = 'LOOPBACK';
    object['spec'].endpoint = object['spec'].endpoints;
    const result = validateObject(object);
    expect(result.schemaErrors.join()).toMatch(/ports\/0\/number must be integer/);
    expect(result.schemaErrors.join()).toMatch(/resolution must be equal to one of the allowed values/);
    expect(result.unknownFields).toEqual(['/spec/endpoint']);
  });

  it('an unknown field in metadata, and a wrong apiVersion', () => {
    const object = clone(the('istio/meshwarden.yaml', 'Service'));
    object['metadata'].label = { app: 'x' };
    expect(validateObject(object).unknownFields).toEqual(['/metadata/label']);
    expect(validateObject({ ...object, apiVersion: 'v2' }).schemaErrors.join()).toMatch(/no schema for v2 Service/);
  });

  it('a misspelled or extra key in the IstioOperator spec', () => {
    const spec = clone(the('istio/mesh-config.yaml', 'IstioOperator')['spec']);
    expect(() => readIstioOperatorSpec({ meshconfig: spec.meshConfig })).toThrow(/only meshConfig is expected here, found meshconfig/);
    spec.meshConfig.extensionProviders[0].envoyExtAuthzGrpc.failOpen = 'false';
    expect(() => readIstioOperatorSpec(spec)).toThrow(/failOpen: expected a boolean/);
  });

  it('YAML that Kubernetes would read differently: duplicate keys, YAML 1.1 booleans', () => {
    const text = readRepoFile('istio/data-authz.yaml');
    expect(() => parseYamlDocuments(text.replace('  action: CUSTOM\n', '  action: CUSTOM\n  action: ALLOW\n'))).toThrow(/unique/i);
    expect(() => parseYamlDocuments('metadata:\n  labels:\n    enabled: yes\n')).toThrow(/YAML 1.1 and 1.2/);
  });
});
