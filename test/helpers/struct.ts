// google.protobuf.Struct as the grpc-js client decodes it ({fields:{k:{stringValue:…}}}) → plain JSON.
// Written apart from src/envoy/struct.ts so that tests do not check the server's Struct code with itself.

/** `noKind` answers for a Value that has none of its kinds set (by default, an error). */
export function structToJson(struct: unknown, noKind: (value: unknown) => unknown = refuseNoKind): Record<string, unknown> {
  const fields = (struct as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, valueToJson(value, noKind)]));
}

function refuseNoKind(value: unknown): never {
  throw new Error(`not a google.protobuf.Value: ${JSON.stringify(value)}`);
}

function valueToJson(value: unknown, noKind: (value: unknown) => unknown): unknown {
  const v = value as Record<string, any>;
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  if ('nullValue' in v) return null;
  if ('structValue' in v) return structToJson(v.structValue, noKind);
  if ('listValue' in v) return ((v.listValue?.values ?? []) as unknown[]).map((item) => valueToJson(item, noKind));
  return noKind(value);
}
