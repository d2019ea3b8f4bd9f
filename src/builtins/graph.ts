// graph.reachable_paths (OPA's reachable.go): every path from the initial vertices, cycles cut where they close.
import { collectionArg, objectArg, toSet, type BuiltinTable, type JsonObject } from './builtin.js';

/** Graph vertices are object keys, so only strings can be looked up (a JSON object's keys). */
function edgesOf(graph: JsonObject, vertex: unknown): unknown[] | undefined | 'none' {
  if (typeof vertex !== 'string' || !Object.hasOwn(graph, vertex)) return undefined;
  const edges = graph[vertex];
  return Array.isArray(edges) ? edges : 'none';
}

function buildPaths(graph: JsonObject, root: unknown, path: unknown[], out: unknown[][], reached: Set<string>): void {
  const edges = edgesOf(graph, root);
  if (edges === undefined) {
    out.push(path);
    return;
  }
  const extended = [...path, root];
  if (edges === 'none' || edges.length === 0) {
    out.push(extended);
    return;
  }
  const seen = new Set(reached);
  seen.add(JSON.stringify(root));
  for (const neighbor of edges) {
    if (seen.has(JSON.stringify(neighbor))) out.push(extended);
    else buildPaths(graph, neighbor, extended, out, seen);
  }
}

export const graphBuiltins: BuiltinTable = {
  'graph.reachable_paths': (_evaluation, graphValue, initial) => {
    const graph = objectArg(graphValue, 1);
    const queue = collectionArg(initial, 2);
    const out: unknown[][] = [];
    for (const node of queue) {
      const edges = edgesOf(graph, node);
      if (edges === undefined) continue;
      if (edges !== 'none' && edges.length >= 1) {
        for (const neighbor of edges) buildPaths(graph, neighbor, [node], out, new Set([JSON.stringify(node)]));
      } else {
        out.push([node]);
      }
    }
    return toSet(out);
  },
};
