// The validated config → the runtime objects serve and eval decide with, each built once: the trust domains,
// the token verifier (key files read once), the gRPC body decoder, the policy plan and the first policy. Every
// file problem is collected into one ConfigError, so a start-up lists them all at once.
import { setOpaRuntime } from './builtins/index.js';
import type { CheckContext } from './check/check.js';
import { loadPolicy, PolicyStore, type Policy } from './check/policy.js';
import type { ServeConfig } from './config.js';
import { loadEnvoyApi, type EnvoyApi } from './envoy/protos.js';
import { ConfigError, describeError } from './errors.js';
import type { IdentityOptions } from './identity/identity.js';
import { createTokenVerifier } from './identity/jwt.js';
import { createTrustDomains, trustDomainProblems, type TrustDomains } from './identity/spiffe.js';
import type { BundleSetting } from './management/config-file.js';
import { createServiceClient, type ServiceClient } from './management/service-client.js';
import { DEFAULT_RULES_FILE, PACKAGE_VERSION } from './package-paths.js';
import { loadGrpcBodyDecoder, type GrpcBodyDecoder } from './request/grpc-body.js';
import { compileRulesFile, compileRulesText, loadRulesLibrary } from './rules/library.js';

/** What serve and eval decide with: a Rego bundle (--bundle), a rules file (--rules) or the embedded default rules. */
export interface PolicyPlan {
  /** Loads the policy afresh (a new wasm instance; a rules file is read and compiled again). */
  load(): Promise<Policy>;
  /** For a rules file: loads the policy from its content as already read (the watcher's settled read). */
  loadText: ((text: string) => Promise<Policy>) | undefined;
  /** The rules file served, if any. */
  rulesFile: string | undefined;
  /** Watch the rules file for changes: an operator's --rules file is; the embedded default is part of the install. */
  watch: boolean;
  /** Bundles downloaded from the OPA config file's services: `load` does not apply, their downloaders swap policies in. */
  remote?: RemoteBundles;
}

/** The OPA config file's bundles, with one client per service they use. */
export interface RemoteBundles {
  readonly bundles: readonly BundleSetting[];
  readonly clients: ReadonlyMap<string, ServiceClient>;
  /** The decision path every bundle's wasm module must have as an entrypoint. */
  readonly decision: string;
  /** Compiled into Rego-source bundles that define them: the decision log's mask and drop rules. */
  readonly optionalEntrypoints: readonly string[];
  readonly persistenceDirectory: string;
}

export interface Runtime {
  readonly config: ServeConfig;
  readonly api: EnvoyApi;
  readonly trustDomains: TrustDomains;
  readonly identity: IdentityOptions;
  readonly grpcBodyDecoder: GrpcBodyDecoder | undefined;
  readonly plan: PolicyPlan;
  /** Holds the policy in force, the first one loaded. */
  readonly policies: PolicyStore;
  /** What the Check path needs, reading the policy in force at each call. */
  readonly checkContext: CheckContext;
  /** One client per service of the OPA config file that bundles or decision logs use. */
  readonly serviceClients: ReadonlyMap<string, ServiceClient>;
}

/** The trust domains of the configuration (its names are validated already, so this does not fail). */
export function trustDomainsOf(config: Pick<ServeConfig, 'trustDomain' | 'trustDomainAliases' | 'federatedTrustDomains'>): TrustDomains {
  return createTrustDomains({ local: config.trustDomain, aliases: config.trustDomainAliases, federated: config.federatedTrustDomains });
}

/** `cluster.local` in the rules means the local trust domain and its aliases, so the rules compile against them. */
export function policyPlanOf(config: Pick<ServeConfig, 'bundle' | 'data' | 'decision' | 'rules'>, trustDomains: TrustDomains): PolicyPlan {
  if (config.bundle !== undefined) {
    const source = {
      path: config.bundle,
      ...(config.data === undefined ? {} : { dataPath: config.data }),
      ...(config.decision === undefined ? {} : { decision: config.decision }),
    };
    return { load: () => loadPolicy(source), loadText: undefined, rulesFile: undefined, watch: false };
  }
  const rulesFile = config.rules ?? DEFAULT_RULES_FILE;
  return {
    load: () => loadRulesLibrary(compileRulesFile(rulesFile, trustDomains)),
    loadText: (text: string) => loadRulesLibrary(compileRulesText(text, rulesFile, trustDomains)),
    rulesFile,
    watch: config.rules !== undefined,
  };
}

/**
 * Builds the runtime and loads the first policy; throws one ConfigError listing every file that cannot be used,
 * after `configProblems` (readServeConfig's, so that a start-up lists the bad values and the bad files at once).
 */
export async function createRuntime(config: ServeConfig, configProblems: readonly string[] = []): Promise<Runtime> {
  const problems = [...configProblems];
  // opa.runtime() describes this process, as `opa run` describes itself: its config is the OPA config file (`{}` without one).
  setOpaRuntime({ version: PACKAGE_VERSION, commit: '', config: { ...(config.opa?.document ?? {}) } });
  const grpcBodyDecoder = collect(problems, () => grpcBodyDecoderOf(config));
  // Key files and rules compile against the trust domains: without valid ones there is nothing more to check.
  if (trustDomainProblems({ local: config.trustDomain, aliases: config.trustDomainAliases, federated: config.federatedTrustDomains }).length > 0) {
    throw new ConfigError(problems);
  }
  const trustDomains = trustDomainsOf(config);
  const tokens = collect(problems, () => createTokenVerifier(config, trustDomains));
  const serviceClients = collect(problems, () => serviceClientsOf(config)) ?? new Map<string, ServiceClient>();
  const remote = remoteBundlesOf(config, serviceClients);
  const plan: PolicyPlan = remote === undefined ? policyPlanOf(config, trustDomains) : { load: remoteLoad, loadText: undefined, rulesFile: undefined, watch: false, remote };
  const policies = new PolicyStore();
  // Remote bundles arrive once the servers are up (readiness waits for them); a local policy loads now.
  if (remote === undefined && !(config.opa !== undefined && config.opa.bundles.length > 0)) {
    try {
      await policies.load(plan.load);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems);
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const api = loadEnvoyApi();
  const identity: IdentityOptions = { trustDomains, metadataPrincipal: config.sourcePrincipalMetadata, xfcc: config.xfcc, tokens };
  const checkContext: CheckContext = {
    policy: () => policies.current,
    shadow: config.shadow,
    skipBodyParse: config.skipBodyParse,
    grpcDescriptor: grpcBodyDecoder,
    validStatuses: api.envoyStatusCodes,
    identity,
    limits: Object.freeze({ maxPathBytes: config.maxPathBytes, maxHeaderBytes: config.maxHeaderBytes, maxHeaderCount: config.maxHeaderCount }),
  };
  return Object.freeze({ config, api, trustDomains, identity, grpcBodyDecoder, plan, policies, checkContext, serviceClients });
}

function remoteLoad(): Promise<Policy> {
  return Promise.reject(new ConfigError(['the bundles of the OPA config file are loaded by polling their services, not from a file']));
}

/** A client for each service the OPA config file's bundles and decision logs name (their TLS files read now). */
function serviceClientsOf(config: Pick<ServeConfig, 'opa'>): Map<string, ServiceClient> {
  const clients = new Map<string, ServiceClient>();
  const opa = config.opa;
  if (opa === undefined) return clients;
  const problems: string[] = [];
  for (const service of [...opa.bundles.map((bundle) => bundle.service), ...(opa.decisionLogs === undefined ? [] : [opa.decisionLogs.service]), ...(opa.status === undefined ? [] : [opa.status.service])]) {
    if (clients.has(service.name)) continue;
    try {
      clients.set(service.name, createServiceClient(service));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      problems.push(...error.problems.map((problem) => `${opa.file}: ${problem}`));
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return clients;
}

/** The config file's bundles, with their clients; undefined without any (or when a client could not be built). */
function remoteBundlesOf(config: Pick<ServeConfig, 'opa' | 'decision'>, clients: ReadonlyMap<string, ServiceClient>): RemoteBundles | undefined {
  const opa = config.opa;
  if (opa === undefined || opa.bundles.length === 0 || !opa.bundles.every((bundle) => clients.has(bundle.service.name))) return undefined;
  const logs = opa.decisionLogs;
  return Object.freeze({
    bundles: opa.bundles,
    clients,
    decision: config.decision ?? 'envoy/authz/allow',
    optionalEntrypoints: logs === undefined ? [] : [logs.maskDecision, logs.dropDecision],
    persistenceDirectory: opa.persistenceDirectory,
  });
}

function grpcBodyDecoderOf(config: Pick<ServeConfig, 'protoDescriptor' | 'origins'>): GrpcBodyDecoder | undefined {
  if (config.protoDescriptor === undefined) return undefined;
  const loaded = loadGrpcBodyDecoder(config.protoDescriptor);
  if ('problem' in loaded) throw new ConfigError([`${config.origins.protoDescriptor ?? '--proto-descriptor'}: ${config.protoDescriptor}: ${loaded.problem}`]);
  return loaded;
}

/** Runs `build`, adding a ConfigError's problems to `problems` (anything else is a bug and is thrown on). */
function collect<T>(problems: string[], build: () => T): T | undefined {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw new Error(`building the runtime failed: ${describeError(error)}`, { cause: error });
    problems.push(...error.problems);
    return undefined;
  }
}
