// Validates Kubernetes and Istio objects against the schemas shipped in the `kubernetes-models` package
// family, strictly: besides the schema's own checks (types, enums, required fields, formats), every field
// must be one the schema declares, as `kubectl apply --validate=strict` demands. The packages' schemas
// do not forbid extra properties (the API server prunes them silently), so unknown fields are found by
// watching which properties the package's compiled validator reads: a validator reads every property its
// schema declares (also absent ones), and enumerates the keys of objects whose schema is a map.
import { Namespace, Service, ServiceAccount, ConfigMap } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1';
import { PeerAuthentication } from '@kubernetes-models/istio/security.istio.io/v1beta1';
import { ServiceEntry } from '@kubernetes-models/istio/networking.istio.io/v1beta1';
import { EnvoyFilter } from '@kubernetes-models/istio/networking.istio.io/v1alpha3';
import { envoyFilterProblems } from './envoy-filter.js';
import { IstioOperator } from '@kubernetes-models/istio/install.istio.io/v1alpha1';

interface ModelClass {
  new (data: Record<string, unknown>): object;
  prototype: { validate(): void };
}

interface SchemaEntry {
  model: ModelClass;
  /** The apiVersion whose schema validates this one (same spec message, see SCHEMA_ALIASES). */
  schemaApiVersion: string;
  /** Paths (JSON pointers) whose content the schema leaves open and another check must cover. */
  openPaths: string[];
}

/**
 * @kubernetes-models/istio 2.x carries Istio 1.18's CRDs, before networking.istio.io/v1 and
 * PeerAuthentication security.istio.io/v1 existed (Istio 1.22). Istio generates every served version of
 * a CRD from the same proto message, so the v1beta1 schema is the v1 schema under another name.
 * (@kubernetes-models/istio 3.x has newer CRDs but needs Node 22; this project supports Node 20.)
 */
const SCHEMA_ALIASES: Record<string, string> = {
  'networking.istio.io/v1 ServiceEntry': 'networking.istio.io/v1beta1',
  'security.istio.io/v1 PeerAuthentication': 'security.istio.io/v1beta1',
};

const MODELS: Record<string, ModelClass> = {
  'v1 Namespace': Namespace as unknown as ModelClass,
  'v1 ServiceAccount': ServiceAccount as unknown as ModelClass,
  'v1 Service': Service as unknown as ModelClass,
  'v1 ConfigMap': ConfigMap as unknown as ModelClass,
  'apps/v1 Deployment': Deployment as unknown as ModelClass,
  'policy/v1 PodDisruptionBudget': PodDisruptionBudget as unknown as ModelClass,
  'autoscaling/v2 HorizontalPodAutoscaler': HorizontalPodAutoscaler as unknown as ModelClass,
  'security.istio.io/v1 AuthorizationPolicy': AuthorizationPolicy as unknown as ModelClass,
  'security.istio.io/v1beta1 PeerAuthentication': PeerAuthentication as unknown as ModelClass,
  'networking.istio.io/v1beta1 ServiceEntry': ServiceEntry as unknown as ModelClass,
  'networking.istio.io/v1alpha3 EnvoyFilter': EnvoyFilter as unknown as ModelClass,
  'install.istio.io/v1alpha1 IstioOperator': IstioOperator as unknown as ModelClass,
};

/** IstioOperator's CRD schema stops at the top level; its spec is checked by mesh-config.ts. */
const OPEN_PATHS: Record<string, string[]> = {
  'install.istio.io/v1alpha1 IstioOperator': ['/spec'],
};

/**
 * Objects whose spec this package's CRDs (Istio 1.18) describe too old a version of: EnvoyFilter gained targetRefs
 * later. Their metadata is checked here; their spec by the reader named (Istio's own proto, envoy-filter.ts).
 */
const NEWER_SPECS: Record<string, (spec: unknown) => string[]> = {
  'networking.istio.io/v1alpha3 EnvoyFilter': envoyFilterProblems,
};

export function schemaFor(apiVersion: string, kind: string): SchemaEntry | undefined {
  const key = `${apiVersion} ${kind}`;
  const schemaApiVersion = SCHEMA_ALIASES[key] ?? apiVersion;
  const model = MODELS[`${schemaApiVersion} ${kind}`];
  if (!model) return undefined;
  return { model, schemaApiVersion, openPaths: OPEN_PATHS[`${schemaApiVersion} ${kind}`] ?? [] };
}

export interface ValidationResult {
  /** Schema violations reported by the package's validator. */
  schemaErrors: string[];
  /** Fields the schema does not declare (JSON pointers). */
  unknownFields: string[];
  /** Objects the schema does not describe at all, outside the entry's open paths. */
  undescribed: string[];
}

export function validateObject(object: unknown): ValidationResult {
  if (!isRecord(object)) return { schemaErrors: ['not an object'], unknownFields: [], undescribed: [] };
  const { apiVersion, kind } = object;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string') {
    return { schemaErrors: ['apiVersion and kind must be strings'], unknownFields: [], undescribed: [] };
  }
  const entry = schemaFor(apiVersion, kind);
  if (!entry) return { schemaErrors: [`no schema for ${apiVersion} ${kind}`], unknownFields: [], undescribed: [] };

  const specReader = NEWER_SPECS[`${entry.schemaApiVersion} ${kind}`];
  const { spec, ...withoutSpec } = object;
  const checked = specReader === undefined ? object : withoutSpec;
  const instance = new entry.model({ ...structuredClone(checked), apiVersion: entry.schemaApiVersion });
  const tracker = new ReadTracker();
  const schemaErrors: string[] = [];
  try {
    entry.model.prototype.validate.call(tracker.wrap(instance));
  } catch (error) {
    schemaErrors.push(error instanceof Error ? error.message : String(error));
  }
  if (specReader !== undefined) schemaErrors.push(...specReader(spec));
  const unknownFields: string[] = [];
  const undescribed: string[] = [];
  tracker.audit(instance, '', entry.openPaths, unknownFields, undescribed);
  return { schemaErrors, unknownFields, undescribed };
}

/** Throws with every problem found, or returns quietly. */
export function assertValidObject(object: unknown, where: string): void {
  const { schemaErrors, unknownFields, undescribed } = validateObject(object);
  const problems = [
    ...schemaErrors,
    ...unknownFields.map((path) => `unknown field ${path}`),
    ...undescribed.map((path) => `no schema describes ${path}`),
  ];
  if (problems.length > 0) throw new Error(`${where}: ${problems.join('; ')}`);
}

class ReadTracker {
  private readonly reads = new WeakMap<object, Set<string>>();
  private readonly enumerated = new WeakSet<object>();
  private readonly proxies = new WeakMap<object, object>();

  wrap<T>(value: T): T {
    if (typeof value !== 'object' || value === null) return value;
    const existing = this.proxies.get(value);
    if (existing) return existing as T;
    const proxy = new Proxy(value, {
      get: (target, key, receiver) => {
        this.noteRead(target, key);
        return this.wrap(Reflect.get(target, key, receiver));
      },
      has: (target, key) => {
        this.noteRead(target, key);
        return Reflect.has(target, key);
      },
      getOwnPropertyDescriptor: (target, key) => {
        this.noteRead(target, key);
        return Reflect.getOwnPropertyDescriptor(target, key);
      },
      ownKeys: (target) => {
        this.enumerated.add(target);
        return Reflect.ownKeys(target);
      },
    });
    this.proxies.set(value, proxy);
    return proxy as T;
  }

  private noteRead(target: object, key: string | symbol): void {
    if (typeof key !== 'string') return;
    let keys = this.reads.get(target);
    if (!keys) this.reads.set(target, (keys = new Set()));
    keys.add(key);
  }

  audit(value: unknown, path: string, openPaths: string[], unknown: string[], undescribed: string[]): void {
    if (Array.isArray(value)) {
      value.forEach((item, index) => this.audit(item, `${path}/${index}`, openPaths, unknown, undescribed));
      return;
    }
    if (!isRecord(value)) return;
    const known = this.reads.get(value);
    const isMap = this.enumerated.has(value);
    if (!isMap && !known) {
      if (Object.keys(value).length > 0) undescribed.push(path || '/');
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      const childPath = `${path}/${escapePointer(key)}`;
      if (openPaths.includes(childPath)) continue;
      if (!isMap && !known?.has(key)) {
        unknown.push(childPath);
        continue;
      }
      this.audit(child, childPath, openPaths, unknown, undescribed);
    }
  }
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
