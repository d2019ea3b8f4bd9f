// src/check/response.ts: Decision → CheckResponse (reference §2.2-2.3, §4.1 items 16-21; envoy checklist C-2, E-11..E-14, T-01, T-28, T-30).
import { describe, expect, it } from 'vitest';
import { parseDecision, type Decision } from '../../../src/check/decision.js';
import { CheckFailure, FAILURE_ANSWERS, toReason, type FailureReason } from '../../../src/errors.js';
import { parseBody } from '../../../src/request/body.js';
import { loadEnvoyApi } from '../../../src/envoy/protos.js';
import { REASON_HEADER, toCheckResponse, toFailureResponse } from '../../../src/check/response.js';
import { fromStruct, toStruct } from '../../../src/envoy/struct.js';
import { type CheckResponse, type HeaderValueOption } from '../../../src/envoy/types.js';

const api = loadEnvoyApi();
const decide = (result: unknown): Decision => parseDecision([{ result }], api.envoyStatusCodes);
const ID = '6f1c9a52-3b7e-4c1d-9e2f-8a0b1c2d3e4f';

const OVERWRITE_IF_EXISTS_OR_ADD = 2;
const APPEND_IF_EXISTS_OR_ADD = 0;
const set = (key: string, value: string): HeaderValueOption => ({
  header: { key, value },
  append: { value: false },
  appendAction: OVERWRITE_IF_EXISTS_OR_ADD,
});
const add = (key: string, value: string): HeaderValueOption => ({
  header: { key, value },
  append: { value: true },
  appendAction: APPEND_IF_EXISTS_OR_ADD,
});

/** Every HeaderValueOption anywhere in a response. */
function headerOptions(response: CheckResponse): HeaderValueOption[] {
  return [
    ...(response.okResponse?.headers ?? []),
    ...(response.okResponse?.responseHeadersToAdd ?? []),
    ...(response.deniedResponse?.headers ?? []),
  ];
}

/** The response after a protobuf round trip, as Envoy would read it. */
function onTheWire(response: CheckResponse): Record<string, any> {
  const { CheckResponse: type } = api;
  expect(type.verify(response)).toBeNull();
  const decoded = type.decode(type.encode(response as never).finish());
  return type.toObject(decoded, { enums: Number, longs: Number, defaults: false }) as Record<string, any>;
}

describe('toCheckResponse', () => {
  it('§4.1 item 16: true → status 0, no http response, decision_id in dynamic metadata', () => {
    expect(toCheckResponse(decide(true), ID)).toEqual({
      status: { code: 0 },
      dynamicMetadata: { fields: { decision_id: { stringValue: ID } } },
    });
  });

  it('§4.1 item 17 + T-28: false → status 7 with an explicit 403 deniedResponse', () => {
    const response = toCheckResponse(decide(false), ID);
    expect(response.status).toEqual({ code: 7 });
    expect(response.okResponse).toBeUndefined();
    expect(response.deniedResponse?.status).toEqual({ code: 403 });
    expect(response.deniedResponse?.headers ?? []).toEqual([]);
    expect(response.deniedResponse?.body).toBeUndefined();
    expect(fromStruct(response.dynamicMetadata)).toEqual({ decision_id: ID });
  });

  it('§4.1 item 18: allow with two upstream headers and metadata', () => {
    const response = toCheckResponse(
      decide({ allowed: true, headers: { x: 'hello', y: 'world' }, dynamic_metadata: { test: 'foo', bar: 'baz' } }),
      ID,
    );
    expect(response.status).toEqual({ code: 0 });
    expect(response.deniedResponse).toBeUndefined();
    expect(response.okResponse?.headers).toEqual([set('x', 'hello'), set('y', 'world')]);
    expect(fromStruct(response.dynamicMetadata)).toEqual({ test: 'foo', bar: 'baz', decision_id: ID });
  });

  it('§4.1 item 19: deny with status 301, client headers and body', () => {
    const response = toCheckResponse(
      decide({ allowed: false, headers: { foo: 'bar', baz: 'taz' }, body: 'Unauthorized Request', http_status: 301 }),
      ID,
    );
    expect(response.status).toEqual({ code: 7 });
    expect(response.okResponse).toBeUndefined();
    expect(response.deniedResponse).toEqual({
      status: { code: 301 },
      headers: [set('foo', 'bar'), set('baz', 'taz')],
      body: 'Unauthorized Request',
    });
  });

  it('an object deny without http_status gets 403', () => {
    expect(toCheckResponse(decide({ allowed: false, body: 'no' }), ID).deniedResponse).toEqual({ status: { code: 403 }, body: 'no' });
  });

  it('§4.1 item 20: two values for one key: set, then append', () => {
    const response = toCheckResponse(decide({ allowed: true, response_headers_to_add: { x: ['hello', 'world'] } }), ID);
    expect(response.okResponse?.responseHeadersToAdd).toEqual([set('x', 'hello'), add('x', 'world')]);
    expect(response.okResponse?.headers ?? []).toEqual([]);
  });

  it('multi-valued upstream headers across an array of objects', () => {
    const response = toCheckResponse(decide({ allowed: true, headers: [{ 'x-id': '1' }, { 'x-id': '2', 'x-b': '3' }] }), ID);
    expect(response.okResponse?.headers).toEqual([set('x-id', '1'), add('x-id', '2'), set('x-b', '3')]);
  });

  it('multi-valued client headers on a deny', () => {
    const response = toCheckResponse(decide({ allowed: false, headers: { 'set-cookie': ['a=1', 'b=2'] } }), ID);
    expect(response.deniedResponse?.headers).toEqual([set('set-cookie', 'a=1'), add('set-cookie', 'b=2')]);
  });

  it('§4.1 item 21: removals and query parameters', () => {
    const response = toCheckResponse(
      decide({
        allowed: true,
        request_headers_to_remove: ['foo', 'bar'],
        query_parameters_to_remove: ['foo', 'bar'],
        query_parameters_to_set: { foo: 'value1', bar: ['value2', 'value3'] },
      }),
      ID,
    );
    expect(response.okResponse).toMatchObject({
      headersToRemove: ['foo', 'bar'],
      queryParametersToRemove: ['foo', 'bar'],
      queryParametersToSet: [
        { key: 'foo', value: 'value1' },
        { key: 'bar', value: 'value2' },
        { key: 'bar', value: 'value3' },
      ],
    });
  });

  it('an object allow always has an okResponse, possibly empty', () => {
    const response = toCheckResponse(decide({ allowed: true }), ID);
    expect(response.okResponse).toBeDefined();
    expect(onTheWire(response)['okResponse']).toEqual({});
  });

  it('branch-specific keys stay on their branch', () => {
    const allow = toCheckResponse(decide({ allowed: true, body: 'ignored', http_status: 401, headers: { a: '1' } }), ID);
    expect(allow.deniedResponse).toBeUndefined();
    expect(allow.okResponse?.headers).toEqual([set('a', '1')]);
    const deny = toCheckResponse(
      decide({ allowed: false, request_headers_to_remove: ['a'], query_parameters_to_set: { q: '1' }, response_headers_to_add: { r: '1' } }),
      ID,
    );
    expect(deny.okResponse).toBeUndefined();
    expect(deny.deniedResponse).toEqual({ status: { code: 403 } });
  });

  it.each<[string, unknown]>([
    ['true', true],
    ['false', false],
    ['an allow object', { allowed: true, headers: { a: '1' }, dynamic_metadata: { decision_id: 'forged', k: 1 } }],
    ['a deny object', { allowed: false, http_status: 401 }],
  ])('decision_id is always ours in dynamicMetadata (%s)', (_name, result) => {
    for (const shadow of [false, true]) {
      const metadata = fromStruct(toCheckResponse(decide(result), ID, shadow).dynamicMetadata);
      expect(metadata['decision_id']).toBe(ID);
    }
  });

  it.each<[string, unknown]>([
    ['false', false],
    ['a deny object', { allowed: false, headers: { a: '1' }, body: 'no', http_status: 401, dynamic_metadata: { k: 'v' } }],
  ])('shadow mode: a deny (%s) becomes status 0 with an empty okResponse', (_name, result) => {
    const response = toCheckResponse(decide(result), ID, true);
    expect(response.status).toEqual({ code: 0 });
    expect(response.okResponse).toEqual({});
    expect(response.deniedResponse).toBeUndefined();
    expect(fromStruct(response.dynamicMetadata)['decision_id']).toBe(ID);
  });

  it('shadow mode does not change an allow', () => {
    const decision = decide({ allowed: true, headers: { a: '1' }, dynamic_metadata: { k: 'v' } });
    expect(toCheckResponse(decision, ID, true)).toEqual(toCheckResponse(decision, ID, false));
  });

  it('dynamic_metadata keeps its JSON types', () => {
    const response = toCheckResponse(decide({ allowed: true, dynamic_metadata: { s: 'x', n: 1.5, b: false, z: null, l: [1, 'a'], o: { p: [] } } }), ID);
    expect(response.dynamicMetadata.fields).toEqual({
      s: { stringValue: 'x' },
      n: { numberValue: 1.5 },
      b: { boolValue: false },
      z: { nullValue: 0 },
      l: { listValue: { values: [{ numberValue: 1 }, { stringValue: 'a' }] } },
      o: { structValue: { fields: { p: { listValue: { values: [] } } } } },
      decision_id: { stringValue: ID },
    });
  });

  it.each<[string, unknown, boolean]>([
    ['an allow object', { allowed: true, headers: { a: ['1', '2'], b: '3' }, response_headers_to_add: { c: ['4', '5'] } }, false],
    ['a deny object', { allowed: false, headers: [{ a: '1' }, { a: '2' }] }, false],
    ['a shadowed deny', { allowed: false, headers: { a: '1' } }, true],
  ])('T-30: every HeaderValueOption carries append and a matching appendAction (%s)', (_name, result, shadow) => {
    const response = toCheckResponse(decide(result), ID, shadow);
    const options = headerOptions(response);
    if (!shadow) expect(options.length).toBeGreaterThan(0);
    for (const option of options) {
      expect(typeof option.append.value).toBe('boolean');
      expect(option.appendAction).toBe(option.append.value ? APPEND_IF_EXISTS_OR_ADD : OVERWRITE_IF_EXISTS_OR_ADD);
    }
  });

  it('encodes as Envoy reads it: append as a BoolValue, appendAction as the enum number', () => {
    const wire = onTheWire(toCheckResponse(decide({ allowed: true, headers: { a: ['1', '2'] }, request_headers_to_remove: ['r'] }), ID));
    expect(wire['status']).toEqual({ code: 0 });
    expect(wire['okResponse']['headers']).toEqual([
      { header: { key: 'a', value: '1' }, append: { value: false }, appendAction: 2 },
      { header: { key: 'a', value: '2' }, append: { value: true }, appendAction: 0 },
    ]);
    expect(wire['okResponse']['headersToRemove']).toEqual(['r']);
    const deny = onTheWire(toCheckResponse(decide({ allowed: false, http_status: 401, body: 'who?' }), ID));
    expect(deny['status']).toEqual({ code: 7 });
    expect(deny['deniedResponse']).toEqual({ status: { code: 401 }, body: 'who?' });
    expect(fromStruct(deny['dynamicMetadata'])).toEqual({ decision_id: ID });
  });
});

describe('toFailureResponse', () => {
  // The expected answers, written out (errors.ts FAILURE_ANSWERS; a parse error is a 400 as in §2.5 / §4.1 item 8).
  const expectedHttp: Record<FailureReason, number> = {
    missing_attributes: 403,
    request_too_large: 413,
    path_too_long: 414,
    headers_too_large: 431,
    malformed_request: 400,
    request_parse_error: 400,
    no_policy: 503,
    undefined_decision: 403,
    multiple_results: 403,
    evaluation_error: 403,
    invalid_decision: 403,
    forbidden_mutation: 403,
    call_timeout: 408,
    caller_not_allowed: 403,
    malformed_metadata_principal: 403,
    buffer_budget_exceeded: 429,
    internal_error: 403,
  };

  it('covers every reason in FAILURE_ANSWERS', () => {
    expect(Object.keys(expectedHttp).sort()).toEqual(Object.keys(FAILURE_ANSWERS).sort());
  });

  it.each(Object.entries(expectedHttp) as [FailureReason, number][])('%s → status 7, HTTP %i, reason header and message', (reason, httpStatus) => {
    const response = toFailureResponse(reason, ID);
    expect(response).toEqual({
      status: { code: 7, message: reason },
      deniedResponse: {
        status: { code: httpStatus },
        headers: [{ header: { key: 'x-ext-authz-reason', value: reason }, append: { value: false }, appendAction: 2 }],
        body: reason,
      },
      dynamicMetadata: { fields: { decision_id: { stringValue: ID }, reason: { stringValue: reason } } },
    });
    expect(response.status.code).toBe(FAILURE_ANSWERS[reason].grpcCode);
    expect(response.deniedResponse?.status.code).toBe(FAILURE_ANSWERS[reason].httpStatus);
    expect(REASON_HEADER).toBe('x-ext-authz-reason');
    // T-01: never an empty (allowing) response
    expect(onTheWire(response)['status']).toEqual({ code: 7, message: reason });
  });

  it.each<[string, FailureReason, () => unknown]>([
    ['invalid JSON', 'request_parse_error', () => parseBody({ headers: { 'content-type': 'application/json' }, body: '{"secret-token":' })],
    ['a mistyped decision', 'invalid_decision', () => decide({ allowed: true, request_headers_to_remove: 'secret-header' })],
    ['a forbidden mutation', 'forbidden_mutation', () => decide({ allowed: true, headers: { 'x-envoy-secret': '1' } })],
    ['an internal error', 'internal_error', () => { throw new Error('internal detail at /srv/secret/path'); }],
  ])('never carries the internal error text (%s)', (_name, expectedReason, run) => {
    let thrown: unknown;
    try {
      run();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(Error);
    const reason = toReason(thrown);
    expect(reason).toBe(expectedReason);
    const text = JSON.stringify(toFailureResponse(reason, ID));
    expect(text).not.toContain((thrown as Error).message);
    expect(text).not.toContain('secret');
  });

  it('the internal error is a CheckFailure with a message, but only the reason leaves', () => {
    const failure = new CheckFailure('request_parse_error', 'invalid JSON body: Unexpected end of JSON input');
    const response = toFailureResponse(failure.reason, ID);
    expect(response.status.message).toBe('request_parse_error');
    expect(response.deniedResponse?.body).toBe('request_parse_error');
    expect(JSON.stringify(response)).not.toContain('Unexpected');
  });
});

describe('toStruct / fromStruct', () => {
  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['empty', {}, {}],
    ['a string', { a: 'x' }, { a: { stringValue: 'x' } }],
    ['numbers', { i: 42, f: -1.25, z: 0 }, { i: { numberValue: 42 }, f: { numberValue: -1.25 }, z: { numberValue: 0 } }],
    ['booleans', { t: true, f: false }, { t: { boolValue: true }, f: { boolValue: false } }],
    ['null', { n: null }, { n: { nullValue: 0 } }],
    ['an empty string', { e: '' }, { e: { stringValue: '' } }],
    ['a list', { l: [1, 'a', null, [true]] }, {
      l: { listValue: { values: [{ numberValue: 1 }, { stringValue: 'a' }, { nullValue: 0 }, { listValue: { values: [{ boolValue: true }] } }] } },
    }],
    ['a nested object', { o: { p: { q: 'r' } } }, { o: { structValue: { fields: { p: { structValue: { fields: { q: { stringValue: 'r' } } } } } } } }],
    ['an empty object and list', { o: {}, l: [] }, { o: { structValue: { fields: {} } }, l: { listValue: { values: [] } } }],
  ])('%s', (_name, json, fields) => {
    const struct = toStruct(json);
    expect(struct).toEqual({ fields });
    expect(fromStruct(struct)).toEqual(json);
    expect(api.root.lookupType('google.protobuf.Struct').verify(struct)).toBeNull();
  });

  it('drops undefined values at the top level', () => {
    expect(toStruct({ a: undefined, b: 1 })).toEqual({ fields: { b: { numberValue: 1 } } });
  });

  it.each<[string, unknown, Record<string, unknown>]>([
    ['undefined', undefined, {}],
    ['null', null, {}],
    ['a Struct without fields', {}, {}],
    ['an empty Value', { fields: { a: {} } }, { a: null }],
    ['a ListValue without values', { fields: { l: { listValue: {} } } }, { l: [] }],
    ['nullValue as decoded with enums: Number', { fields: { n: { nullValue: 0 } } }, { n: null }],
    ['nullValue as decoded with enums: String', { fields: { n: { nullValue: 'NULL_VALUE' } } }, { n: null }],
    ['a nested structValue without fields', { fields: { o: { structValue: {} } } }, { o: {} }],
  ])('fromStruct(%s)', (_name, struct, expected) => {
    expect(fromStruct(struct)).toEqual(expected);
  });

  it('round-trips through the protobuf encoding', () => {
    const json = { s: 'x', n: 3.5, b: true, z: null, l: [1, { k: 'v' }], o: { deep: { deeper: ['a'] } } };
    const type = api.root.lookupType('google.protobuf.Struct');
    const decoded = type.toObject(type.decode(type.encode(toStruct(json) as never).finish()), { enums: Number, defaults: false });
    expect(fromStruct(decoded)).toEqual(json);
  });

  it('keeps "__proto__" and "constructor" as ordinary keys', () => {
    const json = JSON.parse('{"__proto__":{"a":1},"constructor":"c"}') as Record<string, unknown>;
    const struct = toStruct(json);
    expect(Object.keys(struct.fields)).toEqual(['__proto__', 'constructor']);
    expect(Object.getOwnPropertyDescriptor(struct.fields, '__proto__')?.value).toEqual({ structValue: { fields: { a: { numberValue: 1 } } } });
    const back = fromStruct(struct);
    expect(Object.keys(back)).toEqual(['__proto__', 'constructor']);
    expect(JSON.stringify(back)).toBe('{"__proto__":{"a":1},"constructor":"c"}');
    // and the key reaches the wire
    const bytes = Buffer.from(api.root.lookupType('google.protobuf.Struct').encode(struct as never).finish());
    expect(bytes.includes(Buffer.from('__proto__'))).toBe(true);
  });
});
