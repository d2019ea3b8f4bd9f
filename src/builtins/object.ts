// object.subset (OPA's subset.go). Sets reach us as arrays (opa-wasm's JSON), so they get array semantics.
import { compareValues, fail, isObject, type BuiltinTable, type JsonObject } from './builtin.js';

function objectSubset(superObject: JsonObject, sub: JsonObject): boolean {
  for (const [key, subValue] of Object.entries(sub)) {
    if (!Object.hasOwn(superObject, key)) return false;
    const superValue = superObject[key];
    if (compareValues(subValue, superValue) === 0) continue;
    if (isObject(superValue) && isObject(subValue)) {
      if (!objectSubset(superValue, subValue)) return false;
      continue;
    }
    if (Array.isArray(superValue) && Array.isArray(subValue)) {
      if (!arraySubset(superValue, subValue)) return false;
      continue;
    }
    return false;
  }
  return true;
}

/** A contiguous run of sub inside super. */
function arraySubset(superArray: unknown[], sub: unknown[]): boolean {
  if (sub.length > superArray.length) return false;
  for (let start = 0; start + sub.length <= superArray.length; start++) {
    if (sub.every((item, i) => compareValues(superArray[start + i], item) === 0)) return true;
  }
  return false;
}

export const objectBuiltins: BuiltinTable = {
  'object.subset': (_evaluation, superValue, sub) => {
    if (isObject(superValue) && isObject(sub)) return objectSubset(superValue, sub);
    if (Array.isArray(superValue) && Array.isArray(sub)) return arraySubset(superValue, sub);
    fail('both arguments object.subset must be of the same type or array and set');
  },
};
