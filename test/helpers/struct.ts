// google.protobuf.Struct as the grpc-js client decodes it ({fields:{k:{stringValue:…}}}) → plain JSON.
// Written apart from src/envoy/struct.ts so that tests do not check the server's Struct code with itself.

export function structToJson(struct: unknown): Record<string, unknown> {
  const fields = (struct as { fields?: Record<string, unknown> } | undefined)?.fields ?? {};
  return Object.fromEntries(Object.entries(fields).map(([key, value]) => [key, valueToJson(value)]));
}

function valueToJson(value: unknown): unknown {
  const v = value as Record<string, any>;
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  if ('nullValue' in v) return null;
  if ('structValue' in v) return structToJson(v.structValue);
  if ('listValue' in v) return ((v.listValue?.values ?? []) as unknown[]).map(valueToJson);
  throw new Error(`not a google.protobuf.Value: ${JSON.stringify(value)}`);
}
