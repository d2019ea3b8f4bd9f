// Synthetic rules files for the benchmarks (rules-bench.mjs, check-bench.mjs): `size` rules over 1,000
// destinations, the regulated-data rule always among them, and a probe request only the file's last
// generated rule allows (proof that a server really loaded its file).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ALLOWED_REQUEST, ROOT } from './harness.mjs';

export const DESTINATIONS = 1_000;
const REGULATED_RULES = join(ROOT, 'examples', 'rules', 'regulated-data.yaml');
/** The rule that allows the measured request (examples/requests/analytics-get-data.json) in every file. */
export const EXPECTED_RULE = 'analytics-reads-data';
// ---------------------------------------------------------------------------------------------------
// Synthetic rules files

const svcPrincipal = (n) => `cluster.local/ns/svc-${n}/sa/svc-${n}`;

/**
 * Synthetic rule number `i` (deterministic). Destination svc-(i mod 1000); a source service that shifts with
 * every thousand rules, so rules for one destination name different callers; every 4th rule a DENY; sources
 * by principal, by namespace, or both (with a notPrincipals exclusion); operations with methods, exact
 * paths, prefix and suffix patterns, notPaths and ports; `when` conditions on two rules in every 25.
 */
export function syntheticRule(i) {
  const dest = i % DESTINATIONS;
  const src = (dest + 1 + 7 * Math.floor(i / DESTINATIONS)) % DESTINATIONS;
  const rule = {
    name: `r${i}-svc-${dest}`,
    action: i % 4 === 3 ? 'DENY' : 'ALLOW',
    to: { principals: [svcPrincipal(dest)] },
  };
  switch (i % 3) {
    case 0:
      rule.from = [{ principals: [svcPrincipal(src)] }];
      break;
    case 1:
      rule.from = [{ namespaces: [`svc-${src}`] }];
      break;
    default:
      rule.from = [{ principals: [svcPrincipal(src)] }, { namespaces: [`svc-${(src + 1) % DESTINATIONS}`], notPrincipals: [svcPrincipal((src + 1) % DESTINATIONS)] }];
  }
  switch (i % 5) {
    case 0:
      rule.operations = [{ methods: ['GET'], paths: [`/api/v1/items/${i}`] }];
      break;
    case 1:
      rule.operations = [{ methods: ['GET', 'HEAD'], paths: [`/api/v1/svc-${dest}/*`] }];
      break;
    case 2:
      rule.operations = [{ methods: ['POST', 'PUT'], paths: [`/api/v1/svc-${dest}/orders*`], notPaths: [`/api/v1/svc-${dest}/orders/internal*`] }];
      break;
    case 3:
      rule.operations = [{ methods: ['GET'], paths: ['*.json'], ports: [8080] }, { methods: ['DELETE'], paths: ['/admin/*'] }];
      break;
    default:
      rule.operations = [{ notMethods: ['DELETE', 'PATCH'], paths: ['/healthz', '/metrics', `/api/v2/svc-${dest}*`] }];
  }
  if (i % 25 === 7) rule.when = [{ key: 'request.headers[x-team]', values: ['blue', 'green'] }];
  if (i % 25 === 8) rule.when = [{ key: 'request.query[debug]', notValues: ['1', 'true'] }];
  return rule;
}

/** The last generated rule a plain GET can be allowed by: ALLOW, principal source, exact path, no `when`. */
function probeRuleIndex(syntheticCount) {
  for (let i = syntheticCount - 1; i >= 0; i -= 1) {
    if (i % 4 !== 3 && i % 3 === 0 && i % 5 === 0 && i % 25 !== 7 && i % 25 !== 8) return i;
  }
  throw new Error(`no probe rule among ${syntheticCount} synthetic rules`);
}

/** The measured request, re-addressed so that only synthetic rule `i` can allow it. */
function probeRequest(i) {
  const rule = syntheticRule(i);
  const request = JSON.parse(readFileSync(ALLOWED_REQUEST, 'utf8'));
  const path = rule.operations[0].paths[0];
  const host = `svc-${i % DESTINATIONS}.svc-${i % DESTINATIONS}.svc.cluster.local:8080`;
  request.attributes.source.principal = `spiffe://${rule.from[0].principals[0]}`;
  request.attributes.destination.principal = `spiffe://${rule.to.principals[0]}`;
  Object.assign(request.attributes.request.http, { method: 'GET', path, host });
  Object.assign(request.attributes.request.http.headers, { ':method': 'GET', ':path': path, ':authority': host });
  return { rule: rule.name, request };
}

/** A rules file (JSON) with `size` rules: size - 1 synthetic ones, then the regulated-data rule. */
export function writeRulesFile(dir, size) {
  const regulated = parseYaml(readFileSync(REGULATED_RULES, 'utf8')).rules;
  const synthetic = Array.from({ length: size - regulated.length }, (_, i) => syntheticRule(i));
  const file = join(dir, `rules-${size}.json`);
  writeFileSync(file, JSON.stringify({ default: 'deny', rules: [...synthetic, ...regulated] }, null, 1) + '\n');

  const probeIndex = probeRuleIndex(synthetic.length);
  const probe = probeRequest(probeIndex);
  const probeFile = join(dir, `probe-${size}.json`);
  writeFileSync(probeFile, JSON.stringify(probe.request));
  return {
    file,
    size,
    counts: {
      allow: synthetic.filter((rule) => rule.action === 'ALLOW').length,
      deny: synthetic.filter((rule) => rule.action === 'DENY').length,
      when: synthetic.filter((rule) => rule.when !== undefined).length,
      destinations: new Set(synthetic.map((rule) => rule.to.principals[0])).size,
    },
    probe: { rule: probe.rule, file: probeFile },
  };
}

