// Go 1.26's policiesValid (crypto/x509/verify.go): RFC 5280 policy processing as updated by RFC 9618, for a
// chain from leaf to root, with OPA's options (no user policy set, no explicit policy, mapping allowed).
import type { ParsedCertificate } from './x509-certificate.js';

const ANY_POLICY = '2.5.29.32.0';

interface PolicyNode {
  readonly validPolicy: string;
  expectedPolicySet: string[];
  readonly parents: Set<PolicyNode>;
  readonly children: Set<PolicyNode>;
}

function newNode(validPolicy: string, parents: PolicyNode[]): PolicyNode {
  const node: PolicyNode = { validPolicy, expectedPolicySet: [validPolicy], parents: new Set(), children: new Set() };
  for (const parent of parents) {
    parent.children.add(node);
    node.parents.add(parent);
  }
  return node;
}

/** The policy graph: one stratum of nodes (by valid policy) per certificate processed. */
class PolicyGraph {
  readonly strata: Array<Map<string, PolicyNode>> = [new Map([[ANY_POLICY, newNode(ANY_POLICY, [])]])];
  private parentIndex = new Map<string, PolicyNode[]>();
  depth = 0;

  insert(node: PolicyNode): void {
    this.strata[this.depth]!.set(node.validPolicy, node);
  }

  parentsWithExpected(expected: string): PolicyNode[] {
    return this.depth === 0 ? [] : (this.parentIndex.get(expected) ?? []);
  }

  parentWithAnyPolicy(): PolicyNode | undefined {
    return this.depth === 0 ? undefined : this.strata[this.depth - 1]!.get(ANY_POLICY);
  }

  parents(): PolicyNode[] {
    return this.depth === 0 ? [] : [...this.strata[this.depth - 1]!.values()];
  }

  leaves(): Map<string, PolicyNode> {
    return this.strata[this.depth]!;
  }

  deleteLeaf(policy: string): void {
    const node = this.strata[this.depth]!.get(policy);
    if (node === undefined) return;
    for (const parent of node.parents) parent.children.delete(node);
    for (const child of node.children) child.parents.delete(node);
    this.strata[this.depth]!.delete(policy);
  }

  validPolicyNodes(): PolicyNode[] {
    const valid: PolicyNode[] = [];
    for (let i = this.depth; i >= 0; i--) {
      for (const node of this.strata[i]!.values()) {
        if (node.validPolicy === ANY_POLICY || node.parents.size !== 1) continue;
        if ([...node.parents][0]!.validPolicy === ANY_POLICY) valid.push(node);
      }
    }
    return valid;
  }

  prune(): void {
    for (let i = this.depth - 1; i > 0; i--) {
      for (const node of [...this.strata[i]!.values()]) {
        if (node.children.size > 0) continue;
        for (const parent of node.parents) parent.children.delete(node);
        this.strata[i]!.delete(node.validPolicy);
      }
    }
  }

  incrementDepth(): void {
    this.parentIndex = new Map();
    for (const node of this.strata[this.depth]!.values()) {
      for (const expected of node.expectedPolicySet) {
        const list = this.parentIndex.get(expected);
        if (list === undefined) this.parentIndex.set(expected, [node]);
        else list.push(node);
      }
    }
    this.depth++;
    this.strata.push(new Map());
  }
}

interface PolicyFields {
  policies: string[];
  mappings: Array<{ issuer: string; subject: string }>;
  requireExplicitPolicy: number;
  requireExplicitPolicyZero: boolean;
  inhibitPolicyMapping: number;
  inhibitPolicyMappingZero: boolean;
  inhibitAnyPolicy: number;
  inhibitAnyPolicyZero: boolean;
}

function policyFields(certificate: ParsedCertificate): PolicyFields {
  const json = certificate.json;
  return {
    policies: (json.Policies as string[] | null) ?? [],
    mappings: ((json.PolicyMappings as Array<{ IssuerDomainPolicy: string; SubjectDomainPolicy: string }> | null) ?? []).map((m) => ({
      issuer: m.IssuerDomainPolicy,
      subject: m.SubjectDomainPolicy,
    })),
    requireExplicitPolicy: json.RequireExplicitPolicy as number,
    requireExplicitPolicyZero: json.RequireExplicitPolicyZero as boolean,
    inhibitPolicyMapping: json.InhibitPolicyMapping as number,
    inhibitPolicyMappingZero: json.InhibitPolicyMappingZero as boolean,
    inhibitAnyPolicy: json.InhibitAnyPolicy as number,
    inhibitAnyPolicyZero: json.InhibitAnyPolicyZero as boolean,
  };
}

/** policiesValid with OPA's VerifyOptions (CertificatePolicies empty: the user's set is anyPolicy). */
export function policiesValid(chain: readonly ParsedCertificate[]): boolean {
  if (chain.length === 1) return true;
  const n = chain.length - 1;
  let graph: PolicyGraph | undefined = new PolicyGraph();
  let inhibitAnyPolicy = n + 1;
  let explicitPolicy = n + 1;
  let policyMapping = n + 1;

  for (let i = n - 1; i >= 0; i--) {
    const certificate = chain[i]!;
    const fields = policyFields(certificate);
    const isSelfSigned = certificate.rawIssuer.equals(certificate.rawSubject);
    if (fields.policies.length === 0) graph = undefined;
    if (explicitPolicy === 0 && graph === undefined) return false;
    if (graph !== undefined) {
      graph.incrementDepth();
      const policies = new Set<string>();
      for (const policy of fields.policies) {
        policies.add(policy);
        if (policy === ANY_POLICY) continue;
        let parents = graph.parentsWithExpected(policy);
        if (parents.length === 0) {
          const anyParent = graph.parentWithAnyPolicy();
          if (anyParent !== undefined) parents = [anyParent];
        }
        if (parents.length > 0) graph.insert(newNode(policy, parents));
      }
      if (policies.has(ANY_POLICY) && (inhibitAnyPolicy > 0 || (n - i < n && isSelfSigned))) {
        const missing = new Map<string, PolicyNode[]>();
        const leaves = graph.leaves();
        for (const parent of graph.parents()) {
          for (const expected of parent.expectedPolicySet) {
            if (leaves.has(expected)) continue;
            const list = missing.get(expected);
            if (list === undefined) missing.set(expected, [parent]);
            else list.push(parent);
          }
        }
        for (const [policy, parents] of missing) graph.insert(newNode(policy, parents));
      }
      graph.prune();
      if (i !== 0 && fields.mappings.length > 0) {
        const mappings = new Map<string, string[]>();
        for (const mapping of fields.mappings) {
          if (policyMapping > 0) {
            if (mapping.issuer === ANY_POLICY || mapping.subject === ANY_POLICY) return false;
            const list = mappings.get(mapping.issuer);
            if (list === undefined) mappings.set(mapping.issuer, [mapping.subject]);
            else list.push(mapping.subject);
          } else {
            graph.deleteLeaf(mapping.issuer);
          }
        }
        graph.prune();
        for (const [issuer, subjects] of mappings) {
          const matching = graph.leaves().get(issuer);
          if (matching !== undefined) {
            matching.expectedPolicySet = subjects;
          } else {
            const anyLeaf = graph.leaves().get(ANY_POLICY);
            if (anyLeaf !== undefined) {
              const node = newNode(issuer, [anyLeaf]);
              node.expectedPolicySet = subjects;
              graph.insert(node);
            }
          }
        }
      }
    }
    if (i !== 0) {
      if (!isSelfSigned) {
        if (explicitPolicy > 0) explicitPolicy--;
        if (policyMapping > 0) policyMapping--;
        if (inhibitAnyPolicy > 0) inhibitAnyPolicy--;
      }
      if ((fields.requireExplicitPolicy > 0 || fields.requireExplicitPolicyZero) && fields.requireExplicitPolicy < explicitPolicy) {
        explicitPolicy = fields.requireExplicitPolicy;
      }
      if ((fields.inhibitPolicyMapping > 0 || fields.inhibitPolicyMappingZero) && fields.inhibitPolicyMapping < policyMapping) {
        policyMapping = fields.inhibitPolicyMapping;
      }
      if ((fields.inhibitAnyPolicy > 0 || fields.inhibitAnyPolicyZero) && fields.inhibitAnyPolicy < inhibitAnyPolicy) {
        inhibitAnyPolicy = fields.inhibitAnyPolicy;
      }
    }
  }
  if (explicitPolicy > 0) explicitPolicy--;
  if (policyFields(chain[0]!).requireExplicitPolicyZero) explicitPolicy = 0;
  // With anyPolicy as the user's set, the user-constrained set is the authority-constrained one.
  let validCount = 0;
  if (graph !== undefined) {
    validCount = graph.validPolicyNodes().length + (graph.leaves().has(ANY_POLICY) ? 1 : 0);
  }
  return !(explicitPolicy === 0 && validCount === 0);
}
