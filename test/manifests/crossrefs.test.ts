// The manifests have to agree with each other (and with the Dockerfile) to work: provider ↔ Service,
// selectors ↔ labels, ports ↔ probes, ServiceEntry ↔ in-pod provider. Each check names what breaks
// in the cluster when it fails.
import { describe, expect, it } from 'vitest';
import { GUIDE, objectsIn, PATCH_FILES, selects, serviceSelects, strategicMerge, the, type K8sObject } from './helpers/manifests.js';
import { providerProblems, readIstioOperatorSpec, type ExtensionProvider } from './helpers/mesh-config.js';
import { clone, loadYamlFile, parseYamlDocuments, readRepoFile } from './helpers/yaml.js';
import { parseServeConfig, SERVE_OPTIONS } from '../../src/config.js';
import { REASON_HEADER } from '../../src/check/response.js';

const CENTRAL = 'istio/meshwarden.yaml';
const IN_POD = 'istio/in-pod/data.yaml';

const providersOf = (file: string): ExtensionProvider[] => readIstioOperatorSpec(the(file, 'IstioOperator')['spec']);
const mainProviders = () => providersOf('istio/mesh-config.yaml');
const inPodProviders = () => providersOf('istio/in-pod/mesh-config.yaml');
const provider = (list: ExtensionProvider[], name: string): ExtensionProvider => {
  const found = list.find((p) => p.name === name);
  if (!found) throw new Error(`no provider ${name}`);
  return found;
};

const podSpec = (deployment: K8sObject) => deployment['spec'].template.spec;
const podLabels = (deployment: K8sObject): Record<string, string> => deployment['spec'].template.metadata.labels;
const meshwardenContainer = (deployment: K8sObject) => {
  const container = podSpec(deployment).containers.find((c: { name: string }) => c.name === 'meshwarden');
  if (!container) throw new Error(`${deployment.metadata.name}: no meshwarden container`);
  return container;
};

/** A Service's targetPort (name or number) resolved to the container port it reaches, if any. */
function targetContainerPort(deployment: K8sObject, targetPort: string | number): { container: string; containerPort: number } | undefined {
  for (const container of podSpec(deployment).containers) {
    for (const port of container.ports ?? []) {
      if (port.name === targetPort || port.containerPort === targetPort) return { container: container.name, containerPort: port.containerPort };
    }
  }
  return undefined;
}

/** Istio's header patterns (includeRequestHeadersInCheck, headersTo*): exact, `prefix*` or `*suffix`, case-insensitive. */
function headerMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase();
  const n = name.toLowerCase();
  if (p.endsWith('*')) return n.startsWith(p.slice(0, -1));
  if (p.startsWith('*')) return n.endsWith(p.slice(1));
  return n === p;
}

const XFCC = 'x-forwarded-client-cert';
const PROXY_CONFIG = 'proxy.istio.io/config';

/** The pod's ProxyConfig annotation (what its sidecar is configured with), parsed; {} when absent. */
function podProxyConfig(deployment: K8sObject): Record<string, any> {
  const text = deployment['spec'].template.metadata.annotations?.[PROXY_CONFIG];
  if (text === undefined) return {};
  return (parseYamlDocuments(text, PROXY_CONFIG)[0]?.value ?? {}) as Record<string, any>;
}

/**
 * What must hold for an HTTP provider to reach meshwarden's HTTP service and for its checks to carry an
 * identity: provider port → Service port `http` (appProtocol http) → container port `http` → --http-addr;
 * pathPrefix = --http-path-prefix; the XFCC header forwarded, read (--xfcc), and left unchanged by
 * meshwarden's own sidecar (else its element is the last one and names the data pod as the caller).
 */
function httpServiceProblems(http: ExtensionProvider, deployment: K8sObject, service: K8sObject): string[] {
  const problems: string[] = [];
  const where = `provider ${http.name}`;
  const servicePort = service['spec'].ports.find((p: { port: number }) => p.port === http.port);
  if (!servicePort) return [`${where}: Service ${service.metadata.name} has no port ${http.port}`];
  if (servicePort.name !== 'http') problems.push(`${where}: Service port ${http.port} is named ${servicePort.name}, not http`);
  if (servicePort.appProtocol !== 'http') problems.push(`${where}: Service port ${http.port} has appProtocol ${servicePort.appProtocol}, not http`);
  const target = targetContainerPort(deployment, servicePort.targetPort);
  if (!target || target.container !== 'meshwarden') return [...problems, `${where}: Service port ${http.port} reaches no meshwarden container port`];
  const container = meshwardenContainer(deployment);
  const portName = container.ports.find((p: { containerPort: number }) => p.containerPort === target.containerPort).name;
  if (portName !== 'http') problems.push(`${where}: container port ${target.containerPort} is named ${portName}, not http`);
  const env = Object.fromEntries((container.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value]));
  let config;
  try {
    config = parseServeConfig(container.args.slice(1), env);
  } catch (error) {
    return [...problems, `${where}: meshwarden would not start: ${(error as Error).message}`];
  }
  if (!config.httpAddr) problems.push(`${where}: meshwarden does not serve HTTP (no --http-addr)`);
  else {
    if (config.httpAddr.port !== target.containerPort) problems.push(`${where}: --http-addr port ${config.httpAddr.port} is not the container port ${target.containerPort}`);
    // The sidecar delivers inbound traffic to the pod IP, not to loopback.
    if (config.httpAddr.host !== '0.0.0.0') problems.push(`${where}: --http-addr host ${config.httpAddr.host} is not 0.0.0.0`);
  }
  if (config.httpPathPrefix !== (http.pathPrefix ?? '')) {
    problems.push(`${where}: --http-path-prefix "${config.httpPathPrefix}" is not the provider's pathPrefix "${http.pathPrefix ?? ''}"`);
  }
  if (!config.xfcc) problems.push(`${where}: --xfcc is off, so HTTP checks carry no identity`);
  if (!http.includeRequestHeadersInCheck.some((pattern) => headerMatches(pattern, XFCC))) {
    problems.push(`${where}: includeRequestHeadersInCheck does not forward ${XFCC}`);
  }
  if (podProxyConfig(deployment)['proxyHeaders']?.forwardedClientCert !== 'FORWARD_ONLY') {
    problems.push(`${where}: meshwarden's sidecar appends its own ${XFCC} element (${PROXY_CONFIG} proxyHeaders.forwardedClientCert is not FORWARD_ONLY)`);
  }
  return problems;
}

/** Finds the Service a provider's `service` names: <name>.<namespace>.svc.cluster.local. */
function serviceForHost(host: string): K8sObject | undefined {
  const match = /^([a-z0-9-]+)\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(host);
  if (!match) return undefined;
  return objectsIn(CENTRAL)
    .map((entry) => entry.object)
    .find((o) => o.kind === 'Service' && o.metadata.name === match[1] && o.metadata.namespace === match[2]);
}

describe('extension providers (mesh-config.yaml)', () => {
  it('read as Istio MeshConfig, strictly, and pass istiod’s own provider checks', () => {
    for (const list of [mainProviders(), inPodProviders()]) {
      expect(list.flatMap(providerProblems)).toEqual([]);
      expect(new Set(list.map((p) => p.name)).size).toBe(list.length);
    }
  });

  it('meshwarden: gRPC to the Service, explicit short timeout, fail closed, explicit statusOnError, body', () => {
    const grpc = provider(mainProviders(), 'meshwarden');
    expect(grpc).toMatchObject({
      kind: 'envoyExtAuthzGrpc',
      service: 'meshwarden.meshwarden.svc.cluster.local',
      port: 9191,
      failOpen: false,
      statusOnError: '403',
      includeRequestBody: { maxRequestBytes: 8192, allowPartialMessage: true, packAsBytes: false },
    });
    // Istio's default is 600s; the reference's checklist asks for 200-500ms.
    expect(grpc.timeout).toBeGreaterThanOrEqual(0.2);
    expect(grpc.timeout).toBeLessThanOrEqual(0.5);
  });

  it('meshwarden-http: the HTTP mode on port 8181 under /check, also fail closed, with the body', () => {
    const http = provider(mainProviders(), 'meshwarden-http');
    expect(http).toMatchObject({ kind: 'envoyExtAuthzHttp', service: 'meshwarden.meshwarden.svc.cluster.local', port: 8181, pathPrefix: '/check', failOpen: false, statusOnError: '403' });
    expect(http.timeout).toBe(0.5);
    expect(http.includeRequestBody).toEqual(provider(mainProviders(), 'meshwarden').includeRequestBody);
  });

  it('meshwarden-http: forwards the identity header and content-type, and lets only x-ext-authz-* answers through', () => {
    const http = provider(mainProviders(), 'meshwarden-http');
    // The caller's identity over HTTP is the last XFCC element; Envoy forwards only listed headers.
    expect(http.includeRequestHeadersInCheck).toContain(XFCC);
    // Without content-type an HTTP authorizer cannot parse the body it gets (istio/istio#43618).
    expect(http.includeRequestHeadersInCheck).toContain('content-type');
    expect(http.headersToUpstreamOnAllow).toEqual(['x-ext-authz-*']);
    expect(http.headersToDownstreamOnDeny).toEqual(['content-type', 'x-ext-authz-*']);
    // meshwarden's failure denies carry their reason code and a text/plain body; both reach the caller.
    for (const header of [REASON_HEADER, 'content-type']) expect(http.headersToDownstreamOnDeny.some((p) => headerMatches(p, header)), header).toBe(true);
    // What Node adds to every answer never overwrites request headers or reaches the caller.
    for (const header of ['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']) {
      expect([...http.headersToUpstreamOnAllow, ...http.headersToDownstreamOnDeny].some((p) => headerMatches(p, header)), header).toBe(false);
    }
    expect(http.headersToDownstreamOnAllow).toEqual([]);
  });

  it('the in-pod file repeats the shared providers unchanged and adds meshwarden-local', () => {
    const shared = inPodProviders().filter((p) => p.name !== 'meshwarden-local');
    expect(shared).toEqual(mainProviders());
    expect(provider(inPodProviders(), 'meshwarden-local')).toMatchObject({ kind: 'envoyExtAuthzGrpc', service: 'meshwarden.local', port: 9191, failOpen: false, statusOnError: '403' });
  });

  it('the checks catch a mistyped or invalid provider', () => {
    const base = () => clone(the('istio/mesh-config.yaml', 'IstioOperator')['spec']);
    const grpcOf = (spec: any) => spec.meshConfig.extensionProviders[0].envoyExtAuthzGrpc;

    let spec = base();
    grpcOf(spec).servce = grpcOf(spec).service;
    expect(() => readIstioOperatorSpec(spec)).toThrow(/unknown field "servce"/);

    spec = base();
    grpcOf(spec).timeout = '500ms'; // proto3 JSON durations are seconds: "0.5s"
    expect(() => readIstioOperatorSpec(spec)).toThrow(/expected a duration/);

    spec = base();
    spec.meshConfig.extensionProviders[0].envoyExtAuthzHttp = { service: 'x', port: 1 };
    expect(() => readIstioOperatorSpec(spec)).toThrow(/oneof provider has several members set/);

    spec = base();
    spec.meshConfig.extensionProvider = spec.meshConfig.extensionProviders;
    expect(() => readIstioOperatorSpec(spec)).toThrow(/unknown field "extensionProvider"/);

    spec = base();
    grpcOf(spec).port = 70000;
    grpcOf(spec).statusOnError = '999';
    spec.meshConfig.extensionProviders[0].name = 'meshwarden.local';
    const problems = readIstioOperatorSpec(spec).flatMap(providerProblems);
    expect(problems).toEqual([
      'provider "meshwarden.local": name is not a DNS-1123 label',
      'provider "meshwarden.local": port must be 1-65535',
      'provider "meshwarden.local": statusOnError 999 is not an Envoy StatusCode',
    ]);
  });
});

describe('CUSTOM policies ↔ providers', () => {
  const policies = (file: string) => objectsIn(file).map((e) => e.object).filter((o) => o.kind === 'AuthorizationPolicy');

  it('name providers that exist (an unknown name becomes deny rules, istio/istio#40944)', () => {
    const main = new Set(mainProviders().map((p) => p.name));
    const inPod = new Set(inPodProviders().map((p) => p.name));
    for (const policy of policies('istio/data-authz.yaml')) expect(main.has(policy['spec'].provider.name)).toBe(true);
    for (const policy of policies('istio/in-pod/data-authz.yaml')) expect(inPod.has(policy['spec'].provider.name)).toBe(true);
    expect(the('istio/data-authz.yaml', 'AuthorizationPolicy')['spec'].provider.name).toBe('meshwarden');
    expect(the('istio/in-pod/data-authz.yaml', 'AuthorizationPolicy')['spec'].provider.name).toBe('meshwarden-local');
  });

  it('may name either shared provider: both reach a port the Service publishes', () => {
    for (const shared of mainProviders()) {
      const service = serviceForHost(shared.service);
      expect(service, `${shared.name}: no Service for ${shared.service}`).toBeDefined();
      expect(service!['spec'].ports.map((p: { port: number }) => p.port), shared.name).toContain(shared.port);
    }
    expect(mainProviders().map((p) => `${p.name}:${p.kind}`)).toEqual(['meshwarden:envoyExtAuthzGrpc', 'meshwarden-http:envoyExtAuthzHttp']);
  });

  it('are valid CUSTOM policies: rules present, every request matched, no identity conditions', () => {
    const forbiddenSource = ['principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts', 'trustDomains', 'notTrustDomains'];
    const forbiddenWhen = /^(source\.(namespace|serviceAccount|trustDomain|principal)|request\.auth\.)/;
    for (const file of ['istio/data-authz.yaml', 'istio/in-pod/data-authz.yaml']) {
      const policy = the(file, 'AuthorizationPolicy');
      expect(policy['spec'].action).toBe('CUSTOM');
      expect(policy['spec'].rules).toEqual([{}]);
      for (const rule of policy['spec'].rules) {
        for (const from of rule.from ?? []) for (const key of forbiddenSource) expect(from.source?.[key], `${file}: ${key}`).toBeUndefined();
        for (const condition of rule.when ?? []) expect(condition.key).not.toMatch(forbiddenWhen);
      }
    }
  });

  it('select the data pods and never meshwarden’s own pods', () => {
    const dataPods = podLabels(the(IN_POD, 'Deployment', 'data'));
    const authorizerPods = podLabels(the(CENTRAL, 'Deployment', 'meshwarden'));
    for (const file of ['istio/data-authz.yaml', 'istio/in-pod/data-authz.yaml']) {
      const policy = the(file, 'AuthorizationPolicy');
      expect(policy.metadata.namespace).toBe('data');
      expect(policy['spec'].selector).toEqual({ matchLabels: { app: 'data' } });
      expect(selects(policy['spec'].selector, dataPods)).toBe(true);
      expect(selects(policy['spec'].selector, authorizerPods)).toBe(false);
    }
  });

  it('come with STRICT mTLS for namespace data, the same in both variants', () => {
    const strict = the('istio/data-authz.yaml', 'PeerAuthentication');
    expect(strict.metadata).toEqual({ name: 'default', namespace: 'data' });
    expect(strict['spec']).toEqual({ mtls: { mode: 'STRICT' } }); // namespace-wide: no selector
    expect(the('istio/in-pod/data-authz.yaml', 'PeerAuthentication')).toEqual(strict);
  });
});

describe('provider ↔ Service ↔ Deployment (meshwarden.yaml)', () => {
  const deployment = () => the(CENTRAL, 'Deployment', 'meshwarden');
  const service = () => the(CENTRAL, 'Service', 'meshwarden');

  it('the provider host is the Service’s cluster-local name, and its port is the Service’s grpc port', () => {
    const grpc = provider(mainProviders(), 'meshwarden');
    const found = serviceForHost(grpc.service);
    expect(found, `no Service for ${grpc.service}`).toBeDefined();
    const port = found!['spec'].ports.find((p: { port: number }) => p.port === grpc.port);
    // Named grpc and appProtocol grpc, so Envoy speaks HTTP/2 to it (istio/istio#50881).
    expect(port).toMatchObject({ name: 'grpc', appProtocol: 'grpc', protocol: 'TCP' });
  });

  it('meshwarden-http → Service port http (appProtocol http) → container port http → --http-addr, --http-path-prefix, --xfcc', () => {
    const http = provider(mainProviders(), 'meshwarden-http');
    expect(serviceForHost(http.service)).toBe(service());
    const servicePort = service()['spec'].ports.find((p: { port: number }) => p.port === http.port);
    expect(servicePort).toEqual({ name: 'http', port: 8181, targetPort: 'http', protocol: 'TCP', appProtocol: 'http' });
    expect(targetContainerPort(deployment(), servicePort.targetPort)).toEqual({ container: 'meshwarden', containerPort: 8181 });
    expect(meshwardenContainer(deployment()).ports).toContainEqual({ name: 'http', containerPort: 8181, protocol: 'TCP' });
    expect(httpServiceProblems(http, deployment(), service())).toEqual([]);
  });

  it('meshwarden’s sidecar passes XFCC on unchanged, so the last element stays the data pod sidecar’s', () => {
    // Exactly this ProxyConfig: a misspelt key would be ignored and the sidecar would append (APPEND_FORWARD).
    expect(podProxyConfig(deployment())).toEqual({ proxyHeaders: { forwardedClientCert: 'FORWARD_ONLY' } });
    // On the pod template, where the injector reads it, not on the Deployment.
    expect(deployment().metadata.annotations?.[PROXY_CONFIG]).toBeUndefined();
  });

  it('the HTTP checks catch a broken copy', () => {
    const http = () => clone(provider(mainProviders(), 'meshwarden-http'));
    const problems = (change: (p: ExtensionProvider, d: K8sObject, s: K8sObject) => void) => {
      const [p, d, s] = [http(), clone(deployment()), clone(service())];
      change(p, d, s);
      return httpServiceProblems(p, d, s);
    };
    const args = (d: K8sObject): string[] => meshwardenContainer(d).args;
    const without = (list: string[], flag: string, withValue: boolean) => list.splice(list.indexOf(flag), withValue ? 2 : 1);

    expect(problems((p) => (p.port = 8080))).toEqual(['provider meshwarden-http: Service meshwarden has no port 8080']);
    expect(problems((_p, _d, s) => Object.assign(s['spec'].ports[1], { name: 'tcp-check', appProtocol: 'tcp' }))).toEqual([
      'provider meshwarden-http: Service port 8181 is named tcp-check, not http',
      'provider meshwarden-http: Service port 8181 has appProtocol tcp, not http',
    ]);
    expect(problems((_p, _d, s) => (s['spec'].ports[1].targetPort = 'htp'))).toEqual(['provider meshwarden-http: Service port 8181 reaches no meshwarden container port']);
    expect(problems((_p, d) => without(args(d), '--http-addr', true))).toEqual(['provider meshwarden-http: meshwarden does not serve HTTP (no --http-addr)']);
    expect(problems((_p, d) => (args(d)[args(d).indexOf('--http-addr') + 1] = '127.0.0.1:8282'))).toEqual([
      'provider meshwarden-http: --http-addr port 8282 is not the container port 8181',
      'provider meshwarden-http: --http-addr host 127.0.0.1 is not 0.0.0.0',
    ]);
    expect(problems((p) => (p.pathPrefix = '/authz'))).toEqual(['provider meshwarden-http: --http-path-prefix "/check" is not the provider\'s pathPrefix "/authz"']);
    expect(problems((_p, d) => without(args(d), '--http-path-prefix', true))).toEqual(['provider meshwarden-http: --http-path-prefix "" is not the provider\'s pathPrefix "/check"']);
    expect(problems((_p, d) => without(args(d), '--xfcc', false))).toEqual(['provider meshwarden-http: --xfcc is off, so HTTP checks carry no identity']);
    expect(problems((p) => (p.includeRequestHeadersInCheck = ['content-type']))).toEqual(['provider meshwarden-http: includeRequestHeadersInCheck does not forward x-forwarded-client-cert']);
    // A pattern forwards it too.
    expect(problems((p) => (p.includeRequestHeadersInCheck = ['X-Forwarded-*']))).toEqual([]);
    expect(problems((_p, d) => delete d['spec'].template.metadata.annotations[PROXY_CONFIG])).toEqual([
      'provider meshwarden-http: meshwarden\'s sidecar appends its own x-forwarded-client-cert element (proxy.istio.io/config proxyHeaders.forwardedClientCert is not FORWARD_ONLY)',
    ]);
    expect(problems((_p, d) => args(d).push('--http-adr=0.0.0.0:8181'))).toEqual([
      'provider meshwarden-http: meshwarden would not start: --http-adr: unknown flag',
    ]);
  });

  it('Service targetPort → container port → gRPC probes → listen address', () => {
    const grpcPort = service()['spec'].ports.find((p: { name: string }) => p.name === 'grpc');
    const target = targetContainerPort(deployment(), grpcPort.targetPort);
    expect(target).toEqual({ container: 'meshwarden', containerPort: 9191 });
    const container = meshwardenContainer(deployment());
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      expect(container[probe]?.grpc?.port, probe).toBe(target!.containerPort);
    }
    expect(container.readinessProbe.grpc.service).toBe('envoy.service.auth.v3.Authorization');
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env['MESHWARDEN_GRPC_ADDR']).toBe(`0.0.0.0:${target!.containerPort}`);
    // Every Service port reaches a container port.
    for (const port of service()['spec'].ports) expect(targetContainerPort(deployment(), port.targetPort), port.name).toBeDefined();
    const admin = service()['spec'].ports.find((p: { name: string }) => p.name === 'http-admin');
    expect(env['MESHWARDEN_ADMIN_ADDR']).toBe(`0.0.0.0:${targetContainerPort(deployment(), admin.targetPort)!.containerPort}`);
  });

  it('Deployment selector ↔ pod labels ↔ Service selector ↔ PDB selector', () => {
    const labels = podLabels(deployment());
    expect(selects(deployment()['spec'].selector, labels)).toBe(true);
    expect(serviceSelects(service()['spec'].selector, labels)).toBe(true);
    expect(selects(the(CENTRAL, 'PodDisruptionBudget')['spec'].selector, labels)).toBe(true);
    for (const constraint of podSpec(deployment()).topologySpreadConstraints) expect(selects(constraint.labelSelector, labels)).toBe(true);
    // The Service selects nothing else in these manifests (the data pods in particular).
    expect(serviceSelects(service()['spec'].selector, podLabels(the(IN_POD, 'Deployment', 'data')))).toBe(false);
  });

  it('HPA → Deployment, with at least the replicas the PDB relies on', () => {
    const hpa = the(CENTRAL, 'HorizontalPodAutoscaler');
    expect(hpa.metadata.namespace).toBe(deployment().metadata.namespace);
    expect(hpa['spec'].scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: deployment().metadata.name });
    const pdb = the(CENTRAL, 'PodDisruptionBudget');
    expect(pdb['spec'].minAvailable).toBe(1);
    expect(deployment()['spec'].replicas).toBeGreaterThanOrEqual(2);
    expect(hpa['spec'].minReplicas).toBeGreaterThanOrEqual(2);
    expect(hpa['spec'].minReplicas).toBeGreaterThan(pdb['spec'].minAvailable);
    expect(hpa['spec'].maxReplicas).toBeGreaterThan(hpa['spec'].minReplicas);
    // CPU utilisation is measured against the CPU request, so there must be one.
    expect(hpa['spec'].metrics).toEqual([expect.objectContaining({ type: 'Resource', resource: expect.objectContaining({ name: 'cpu' }) })]);
    expect(meshwardenContainer(deployment()).resources.requests.cpu).toBeDefined();
  });

  it('a rollout never drops below the current capacity', () => {
    expect(deployment()['spec'].strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
  });

  it('everything lives in namespace meshwarden, which exists and gets sidecars', () => {
    for (const { object } of objectsIn(CENTRAL)) {
      if (object.kind === 'Namespace') continue;
      expect(object.metadata.namespace, `${object.kind}/${object.metadata.name}`).toBe('meshwarden');
    }
    expect(the(CENTRAL, 'Namespace', 'meshwarden').metadata.labels).toEqual({ 'istio-injection': 'enabled' });
    expect(podSpec(deployment()).serviceAccountName).toBe(the(CENTRAL, 'ServiceAccount').metadata.name);
  });

  it('runs the image’s `serve` command with the HTTP service and XFCC identities, with the resources set', () => {
    const container = meshwardenContainer(deployment());
    expect(container.args).toEqual(['serve', '--http-addr', '0.0.0.0:8181', '--http-path-prefix', '/check', '--xfcc']);
    expect(container.image).toBe('meshwarden:latest');
    expect(container.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(container.resources.limits).toMatchObject({ memory: expect.any(String) });
    const dockerfile = readRepoFile('Dockerfile');
    expect(dockerfile).toMatch(/^CMD \["serve"\]$/m);
    expect(dockerfile).toMatch(/^EXPOSE 9191$/m);
  });
});

describe('hardening', () => {
  const deployments = () => [the(CENTRAL, 'Deployment', 'meshwarden'), the(IN_POD, 'Deployment', 'data')];

  it('every container: non-root, read-only root filesystem, no privilege escalation, no capabilities, RuntimeDefault seccomp', () => {
    for (const deployment of deployments()) {
      const pod = podSpec(deployment);
      for (const container of pod.containers) {
        const where = `${deployment.metadata.name}/${container.name}`;
        const security = container.securityContext ?? {};
        expect(security.runAsNonRoot ?? pod.securityContext?.runAsNonRoot, where).toBe(true);
        expect(security.readOnlyRootFilesystem, where).toBe(true);
        expect(security.allowPrivilegeEscalation, where).toBe(false);
        expect(security.capabilities?.drop, where).toEqual(['ALL']);
        expect(security.privileged ?? false, where).toBe(false);
        expect(security.seccompProfile?.type ?? pod.securityContext?.seccompProfile?.type, where).toBe('RuntimeDefault');
      }
    }
  });

  it('meshwarden runs as uid 1000, the `node` user of the image, with a writable /tmp', () => {
    const dockerfile = readRepoFile('Dockerfile');
    expect(dockerfile).toMatch(/^FROM node:\d+-[a-z]+-slim$/m);
    expect(dockerfile).toMatch(/^USER node$/m);
    for (const deployment of deployments()) {
      const container = meshwardenContainer(deployment);
      expect(container.securityContext.runAsUser ?? podSpec(deployment).securityContext?.runAsUser).toBe(1000);
      const tmp = container.volumeMounts.find((m: { mountPath: string }) => m.mountPath === '/tmp');
      const volume = podSpec(deployment).volumes.find((v: { name: string }) => v.name === tmp.name);
      expect(volume.emptyDir).toBeDefined();
    }
  });

  it('no service account token where nothing needs one', () => {
    expect(the(CENTRAL, 'ServiceAccount').automountServiceAccountToken).toBe(false);
    for (const deployment of deployments()) expect(podSpec(deployment).automountServiceAccountToken).toBe(false);
  });

  it('replicas spread over nodes', () => {
    const constraints = podSpec(the(CENTRAL, 'Deployment', 'meshwarden')).topologySpreadConstraints;
    expect(constraints).toContainEqual(expect.objectContaining({ topologyKey: 'kubernetes.io/hostname', whenUnsatisfiable: 'DoNotSchedule', maxSkew: 1 }));
    expect(constraints).toContainEqual(expect.objectContaining({ topologyKey: 'topology.kubernetes.io/zone' }));
  });
});

describe('in-pod mode', () => {
  const entry = () => the('istio/in-pod/service-entry.yaml', 'ServiceEntry');
  const data = () => the(IN_POD, 'Deployment', 'data');

  it('the ServiceEntry host and port are the meshwarden-local provider’s', () => {
    const local = provider(inPodProviders(), 'meshwarden-local');
    expect(entry()['spec'].hosts).toEqual([local.service]);
    const port = entry()['spec'].ports.find((p: { number: number }) => p.number === local.port);
    expect(port).toMatchObject({ protocol: 'GRPC', name: 'grpc' });
  });

  it('points at loopback, STATIC, visible only in its own namespace', () => {
    expect(entry()['spec']).toMatchObject({ endpoints: [{ address: '127.0.0.1' }], resolution: 'STATIC', exportTo: ['.'] });
    expect(entry().metadata.namespace).toBe(the('istio/in-pod/data-authz.yaml', 'AuthorizationPolicy').metadata.namespace);
    expect(entry().metadata.namespace).toBe(data().metadata.namespace);
  });

  it('the meshwarden container listens on the ServiceEntry port, and its probes check that port', () => {
    const container = meshwardenContainer(data());
    const port = entry()['spec'].ports[0].number;
    expect(container.ports).toContainEqual(expect.objectContaining({ containerPort: port }));
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) expect(container[probe].grpc.port, probe).toBe(port);
    const env = Object.fromEntries(container.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env['MESHWARDEN_GRPC_ADDR']).toBe(`0.0.0.0:${port}`);
    expect(env['MESHWARDEN_ADMIN_ADDR']).toMatch(/^127\.0\.0\.1:/);
    // gRPC only: the HTTP service is the shared Deployment's.
    expect(container.args).toEqual(['serve']);
    expect(inPodProviders().filter((p) => entry()['spec'].hosts.includes(p.service)).map((p) => p.kind)).toEqual(['envoyExtAuthzGrpc']);
  });

  it('the data pod: identity data/data, selected by its Service and the policy, app port 8080', () => {
    const pod = podSpec(data());
    expect(data().metadata.namespace).toBe('data');
    expect(pod.serviceAccountName).toBe('data');
    expect(the(IN_POD, 'ServiceAccount').metadata).toMatchObject({ name: 'data', namespace: 'data' });
    expect(selects(data()['spec'].selector, podLabels(data()))).toBe(true);
    const service = the(IN_POD, 'Service', 'data');
    expect(serviceSelects(service['spec'].selector, podLabels(data()))).toBe(true);
    expect(service['spec'].ports).toHaveLength(1);
    expect(service['spec'].ports[0].port).toBe(8080);
    expect(targetContainerPort(data(), service['spec'].ports[0].targetPort)).toEqual({ container: 'data', containerPort: 8080 });
    // meshwarden's port is not published.
    expect(service['spec'].ports.map((p: { port: number }) => p.port)).not.toContain(9191);
  });
});

describe('container settings ↔ meshwarden’s own command line parser', () => {
  const settings = (deployment: K8sObject) => {
    const container = meshwardenContainer(deployment);
    expect(container.args[0]).toBe('serve');
    const env = Object.fromEntries((container.env ?? []).map((e: { name: string; value: string }) => [e.name, e.value]));
    // The parser meshwarden runs at start-up: unknown MESHWARDEN_* variables or bad values throw.
    return { container, config: parseServeConfig(container.args.slice(1), env) };
  };

  it('the shared Deployment serves gRPC, HTTP and the admin endpoint on their container ports', () => {
    const { container, config } = settings(the(CENTRAL, 'Deployment', 'meshwarden'));
    const port = (name: string) => container.ports.find((p: { name: string }) => p.name === name).containerPort;
    expect(config.grpcAddr).toEqual({ host: '0.0.0.0', port: port('grpc') });
    expect(config.httpAddr).toEqual({ host: '0.0.0.0', port: port('http') });
    expect(config.adminAddr).toEqual({ host: '0.0.0.0', port: port('http-admin') });
    // The HTTP provider's pathPrefix is stripped, and its identities come from XFCC.
    expect(config.httpPathPrefix).toBe(provider(mainProviders(), 'meshwarden-http').pathPrefix);
    expect(config.xfcc).toBe(true);
    expect(config.shadow).toBe(false);
    // Neither --bundle nor --rules: the embedded default rules.
    expect(config.bundle).toBeUndefined();
    expect(config.rules).toBeUndefined();
  });

  it('the in-pod container serves gRPC on the ServiceEntry port, admin on loopback, no HTTP', () => {
    const { config } = settings(the(IN_POD, 'Deployment', 'data'));
    expect(config.grpcAddr.port).toBe(the('istio/in-pod/service-entry.yaml', 'ServiceEntry')['spec'].ports[0].number);
    expect(config.adminAddr?.host).toBe('127.0.0.1');
    expect(config.httpAddr).toBeUndefined();
    expect(config.xfcc).toBe(false);
  });

  it('the shadow patch turns on shadow mode with the mounted bundle', () => {
    const [patch] = loadYamlFile('istio/shadow-patch.yaml');
    const { config } = settings(strategicMerge(the(CENTRAL, 'Deployment', 'meshwarden'), patch!.value) as K8sObject);
    expect(config.shadow).toBe(true);
    expect(config.bundle).toBe('/policies/bundle.tar.gz');
    // The patch leaves the HTTP service and XFCC identities as they were.
    expect(config.httpAddr).toEqual({ host: '0.0.0.0', port: 8181 });
    expect(config.xfcc).toBe(true);
  });

  it('the rules patch serves the mounted rules file, watched, instead of the embedded default', () => {
    const [patch] = loadYamlFile('istio/rules-patch.yaml');
    const { container, config } = settings(strategicMerge(the(CENTRAL, 'Deployment', 'meshwarden'), patch!.value) as K8sObject);
    // A variable meshwarden reads (the parser above would also reject an unknown MESHWARDEN_* one).
    const rulesVariable = (patch!.value as K8sObject)['spec'].template.spec.containers[0].env.map((e: { name: string }) => e.name);
    expect(rulesVariable).toEqual([SERVE_OPTIONS.rules.env]);
    expect(config.rules).toBe(container.env.find((e: { name: string }) => e.name === 'MESHWARDEN_RULES').value);
    expect(config.bundle).toBeUndefined();
    expect(config.shadow).toBe(false);
    expect(config.httpAddr).toEqual({ host: '0.0.0.0', port: 8181 });
    expect(config.xfcc).toBe(true);
  });

  it('the rules and shadow patches together would not start (--rules excludes --bundle), as the guide says', () => {
    const both = ['istio/rules-patch.yaml', 'istio/shadow-patch.yaml'].reduce<unknown>((deployment, file) => strategicMerge(deployment, loadYamlFile(file)[0]!.value), the(CENTRAL, 'Deployment', 'meshwarden'));
    expect(() => settings(both as K8sObject)).toThrow(/--rules serves the built-in rules library: leave out --bundle/);
    expect(readRepoFile('istio/rules-patch.yaml')).toMatch(/Not together with shadow-patch\.yaml/);
    expect(readRepoFile(GUIDE)).toMatch(/Do not apply `rules-patch\.yaml` together with `shadow-patch\.yaml`/);
  });
});

/** A file the container reads from a mounted ConfigMap, found through the settings variable that names it. */
interface ConfigMapFile {
  variable: string;
  configMap: string;
  key: string;
}

/**
 * The settings variables of a patched Deployment whose value lies in a ConfigMap volume, resolved to the
 * ConfigMap and key. Problems: a writable mount, a subPath mount (the kubelet never updates those, so live
 * reload would never see an update), a path that is no key of the volume.
 */
function configMapFiles(deployment: K8sObject): { files: ConfigMapFile[]; problems: string[] } {
  const pod = podSpec(deployment);
  const container = meshwardenContainer(deployment);
  const files: ConfigMapFile[] = [];
  const problems: string[] = [];
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.volumes.find((v: { name: string }) => v.name === mount.name);
    if (!volume?.configMap) continue;
    if (mount.readOnly !== true) problems.push(`${mount.name}: the ConfigMap mount is not readOnly`);
    if (mount.subPath !== undefined || mount.subPathExpr !== undefined) problems.push(`${mount.name}: a subPath mount is never updated by the kubelet`);
    if (volume.configMap.items !== undefined) problems.push(`${mount.name}: items remap keys to other paths`);
    for (const { name, value } of container.env ?? []) {
      if (typeof value !== 'string' || !value.startsWith(`${mount.mountPath}/`)) continue;
      const key = value.slice(mount.mountPath.length + 1);
      if (!/^[-._a-zA-Z0-9]+$/.test(key)) problems.push(`${name}: ${value} is not <mountPath>/<key> of ${mount.name}`);
      files.push({ variable: name, configMap: volume.configMap.name, key });
    }
  }
  return { files, problems };
}

describe('patches ↔ ConfigMaps ↔ the guide’s commands', () => {
  const patched = (file: string) => strategicMerge(the(CENTRAL, 'Deployment', 'meshwarden'), loadYamlFile(file)[0]!.value) as K8sObject;
  const guide = () => readRepoFile(GUIDE);
  /** `kubectl -n NS create configmap NAME --from-file=KEY` commands in a text. */
  const createCommands = (text: string) => [...text.matchAll(/kubectl -n ([a-z0-9-]+) create configmap ([a-z0-9-]+) --from-file=(\S+)/g)].map((m) => ({ namespace: m[1], configMap: m[2], key: m[3] }));

  it('the rules patch: MESHWARDEN_RULES is <mountPath>/<key> of ConfigMap meshwarden-rules, read-only, no subPath', () => {
    const { files, problems } = configMapFiles(patched('istio/rules-patch.yaml'));
    expect(problems).toEqual([]);
    expect(files).toEqual([{ variable: 'MESHWARDEN_RULES', configMap: 'meshwarden-rules', key: 'rules.yaml' }]);
  });

  it('every patch reads its file from a ConfigMap the guide creates, in the Deployment’s namespace, under that key', () => {
    const namespace = the(CENTRAL, 'Deployment', 'meshwarden').metadata.namespace;
    for (const file of PATCH_FILES) {
      const { files, problems } = configMapFiles(patched(file));
      expect(problems, file).toEqual([]);
      expect(files.length, file).toBeGreaterThan(0);
      const variables = new Set(Object.values(SERVE_OPTIONS).map((option) => option.env));
      for (const found of files) {
        expect(variables.has(found.variable), `${file}: ${found.variable}`).toBe(true);
        const wanted = { namespace, configMap: found.configMap, key: found.key };
        expect(createCommands(guide()), `${GUIDE} creates ${found.configMap}`).toContainEqual(wanted);
      }
      expect(guide(), `${GUIDE} applies ${file}`).toContain(`kubectl -n ${namespace} patch deployment meshwarden --patch-file ${file}`);
    }
  });

  it('the rules patch’s own header repeats the guide’s commands', () => {
    const header = readRepoFile('istio/rules-patch.yaml');
    const { files } = configMapFiles(patched('istio/rules-patch.yaml'));
    expect(createCommands(header)).toEqual([{ namespace: 'meshwarden', configMap: files[0]!.configMap, key: files[0]!.key }]);
    expect(header).toContain('kubectl -n meshwarden patch deployment meshwarden --patch-file istio/rules-patch.yaml');
    expect(header).toMatch(/NOT `subPath: rules\.yaml`: the kubelet never updates/);
  });

  it('the checks catch a subPath mount, a writable mount and a path outside the volume', () => {
    const deployment = clone(patched('istio/rules-patch.yaml'));
    const mount = meshwardenContainer(deployment).volumeMounts.find((m: { name: string }) => m.name === 'rules');
    mount.subPath = 'rules.yaml';
    delete mount.readOnly;
    expect(configMapFiles(deployment).problems).toEqual(['rules: the ConfigMap mount is not readOnly', 'rules: a subPath mount is never updated by the kubelet']);
    const elsewhere = clone(patched('istio/rules-patch.yaml'));
    meshwardenContainer(elsewhere).env.find((e: { name: string }) => e.name === 'MESHWARDEN_RULES').value = '/etc/meshwarden/rules.yaml';
    expect(configMapFiles(elsewhere).files).toEqual([]);
  });
});

describe('the admin port: scraped by Prometheus, reached by the monitoring identity only (admin-metrics.yaml)', () => {
  const deployment = () => the(CENTRAL, 'Deployment', 'meshwarden');
  const policy = () => the('istio/admin-metrics.yaml', 'AuthorizationPolicy');
  const adminPort = (d: K8sObject): number => meshwardenContainer(d).ports.find((p: { name: string }) => p.name === 'http-admin').containerPort;

  /** What breaks the scrape or the lock: each problem names the object and field. */
  function adminProblems(d: K8sObject, p: K8sObject): string[] {
    const problems: string[] = [];
    const annotations: Record<string, string> = d['spec'].template.metadata.annotations ?? {};
    const port = adminPort(d);
    const env = meshwardenContainer(d).env.find((e: { name: string }) => e.name === 'MESHWARDEN_ADMIN_ADDR')?.value;
    if (env === undefined || parseServeConfig([], { MESHWARDEN_ADMIN_ADDR: env }).adminAddr?.port !== port) problems.push(`MESHWARDEN_ADMIN_ADDR ${env} is not port ${port}`);
    if (annotations['prometheus.io/scrape'] !== 'true') problems.push('pod template: prometheus.io/scrape is not "true"');
    if (annotations['prometheus.io/port'] !== String(port)) problems.push(`pod template: prometheus.io/port is not the admin port ${port}`);
    if (annotations['prometheus.io/path'] !== '/metrics') problems.push('pod template: prometheus.io/path is not /metrics');
    // With merging on, istio-agent scrapes the page itself and serves it on 15020, where no policy applies.
    if (annotations['prometheus.istio.io/merge-metrics'] !== 'false') problems.push('pod template: Istio metrics merging is not off');
    if (!selects(p['spec'].selector, podLabels(d))) problems.push('AuthorizationPolicy: does not select the meshwarden pods');
    if (p.metadata.namespace !== d.metadata.namespace) problems.push('AuthorizationPolicy: not in the meshwarden namespace');
    // An ALLOW policy would turn every Check call it does not name into a 403.
    if (p['spec'].action !== 'DENY') problems.push(`AuthorizationPolicy: action ${p['spec'].action}, not DENY`);
    const rules: any[] = p['spec'].rules ?? [];
    const locked = rules.some(
      (rule) =>
        (rule.to ?? []).some((to: any) => (to.operation?.ports ?? []).includes(String(port)) && Object.keys(to.operation).length === 1) &&
        (rule.from ?? []).length === 1 &&
        Object.keys(rule.from[0].source ?? {}).join() === 'notPrincipals' &&
        rule.from[0].source.notPrincipals.length > 0 &&
        rule.when === undefined,
    );
    if (!locked) problems.push(`AuthorizationPolicy: no rule denies port ${port} to every principal but the monitoring identities`);
    if (rules.some((rule) => (rule.to ?? []).some((to: any) => (to.operation?.ports ?? []).some((p2: string) => p2 !== String(port))))) problems.push('AuthorizationPolicy: touches a port other than the admin port');
    return problems;
  }

  it('the scrape annotations name the admin port, merging is off, and the DENY policy locks that port alone', () => {
    expect(adminProblems(deployment(), policy())).toEqual([]);
    expect(policy()['spec'].rules[0].from[0].source.notPrincipals).toEqual(['cluster.local/ns/monitoring/sa/prometheus']);
  });

  it('the checks catch a wrong port, merging left on, an ALLOW policy and a policy that opens to anyone', () => {
    const problems = (change: (d: K8sObject, p: K8sObject) => void): string[] => {
      const [d, p] = [clone(deployment()), clone(policy())];
      change(d, p);
      return adminProblems(d, p);
    };
    expect(problems((d) => (d['spec'].template.metadata.annotations['prometheus.io/port'] = '9191'))).toEqual(['pod template: prometheus.io/port is not the admin port 9090']);
    expect(problems((d) => delete d['spec'].template.metadata.annotations['prometheus.istio.io/merge-metrics'])).toEqual(['pod template: Istio metrics merging is not off']);
    expect(problems((_d, p) => (p['spec'].action = 'ALLOW'))).toEqual(['AuthorizationPolicy: action ALLOW, not DENY']);
    expect(problems((_d, p) => (p['spec'].rules[0].from[0].source = { principals: ['cluster.local/ns/monitoring/sa/prometheus'] }))).toEqual([
      'AuthorizationPolicy: no rule denies port 9090 to every principal but the monitoring identities',
    ]);
    expect(problems((_d, p) => p['spec'].rules[0].to[0].operation.ports.push('9191'))).toEqual(['AuthorizationPolicy: touches a port other than the admin port']);
    expect(problems((_d, p) => (p['spec'].selector = { matchLabels: { app: 'data' } }))).toEqual(['AuthorizationPolicy: does not select the meshwarden pods']);
  });
});
