// src/envoy/protojson.ts fromProtoJson: proto3 JSON CheckRequests (as grpcurl, protojson and opa-envoy-plugin's tests write them).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type protobuf from 'protobufjs';
import { ProtoJsonError, fromProtoJson } from '../../../src/envoy/protojson.js';
import { CONVERSION_OPTIONS, loadEnvoyApi } from '../../../src/envoy/protos.js';

const api = loadEnvoyApi();
const { CheckRequest, CheckResponse } = api;

/** The message as a plain object (numbers for 64-bit ints and enums, base64 bytes), after a wire round trip. */
function plain(type: protobuf.Type, json: unknown): Record<string, any> {
  const message = fromProtoJson(type, json);
  const decoded = type.decode(type.encode(message).finish());
  return type.toObject(decoded, CONVERSION_OPTIONS) as Record<string, any>;
}

const http = (fields: Record<string, unknown>): unknown => ({ attributes: { request: { http: fields } } });
const httpOf = (json: unknown): Record<string, any> => plain(CheckRequest, json)['attributes']['request']['http'];

/** The ProtoJsonError message for `json`, or 'no error'; anything else thrown is rethrown. */
function errorOf(type: protobuf.Type, json: unknown): string {
  try {
    fromProtoJson(type, json);
  } catch (error) {
    if (error instanceof ProtoJsonError) return error.message;
    throw error;
  }
  return 'no error';
}

describe('fromProtoJson(CheckRequest)', () => {
  it('reads the example request', () => {
    const json = JSON.parse(readFileSync(new URL('../../../examples/requests/analytics-get-data.json', import.meta.url), 'utf8')) as unknown;
    const attributes = plain(CheckRequest, json)['attributes'];
    expect(attributes['source']).toEqual({
      address: { socketAddress: { address: '10.0.1.17', portValue: 41234 } },
      principal: 'spiffe://cluster.local/ns/analytics/sa/analytics',
    });
    expect(attributes['destination']['principal']).toBe('spiffe://cluster.local/ns/data/sa/data');
    expect(attributes['request']['time']).toEqual({ seconds: Date.UTC(2026, 10, 22, 9, 30, 0) / 1000, nanos: 123456000 });
    expect(attributes['request']['http']).toMatchObject({
      id: '8306245629211637762',
      method: 'GET',
      path: '/api/v1/data?from=2026-11-01',
      protocol: 'HTTP/1.1',
      headers: { ':authority': 'data.data.svc.cluster.local:8080', accept: 'application/json' },
    });
  });

  it('accepts the names declared in the .proto (snake_case), as opa-envoy-plugin tests write them', () => {
    const snake = {
      attributes: {
        context_extensions: { route: 'r1' },
        tls_session: { sni: 'api.example.com' },
        metadata_context: { filter_metadata: { 'envoy.filters.http.jwt_authn': { sub: 'alice' } } },
        route_metadata_context: { filter_metadata: { r: { k: 1 } } },
        source: { address: { socket_address: { address: '10.0.0.1', port_value: 1234 } } },
        request: {
          http: {
            raw_body: 'Zmlyc3RuYW1lPWZvbyZsYXN0bmFtZT1iYXI=',
            header_map: { headers: [{ key: 'a', raw_value: 'Yg==' }] },
          },
        },
      },
    };
    const camel = {
      attributes: {
        contextExtensions: { route: 'r1' },
        tlsSession: { sni: 'api.example.com' },
        metadataContext: { filterMetadata: { 'envoy.filters.http.jwt_authn': { sub: 'alice' } } },
        routeMetadataContext: { filterMetadata: { r: { k: 1 } } },
        source: { address: { socketAddress: { address: '10.0.0.1', portValue: 1234 } } },
        request: {
          http: {
            rawBody: 'Zmlyc3RuYW1lPWZvbyZsYXN0bmFtZT1iYXI=',
            headerMap: { headers: [{ key: 'a', rawValue: 'Yg==' }] },
          },
        },
      },
    };
    expect(plain(CheckRequest, snake)).toEqual(plain(CheckRequest, camel));
    expect(plain(CheckRequest, snake)['attributes']['request']['http']['rawBody']).toBe('Zmlyc3RuYW1lPWZvbyZsYXN0bmFtZT1iYXI=');
    expect(plain(CheckRequest, snake)['attributes']['source']['address']['socketAddress']['portValue']).toBe(1234);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    ['size as a number', { size: 41 }, { size: 41 }],
    ['size as a string (proto3 JSON int64)', { size: '41' }, { size: 41 }],
    ['size beyond 32 bits', { size: '5000000000' }, { size: 5000000000 }],
    ['a negative size', { size: '-1' }, { size: -1 }],
    ['rawBody as base64', { rawBody: 'eyJhIjoxfQ==' }, { rawBody: 'eyJhIjoxfQ==' }],
    ['rawBody as URL-safe base64 without padding', { rawBody: '-_8' }, { rawBody: '+/8=' }],
    ['headers map', { headers: { ':path': '/x', 'content-type': 'application/json' } }, { headers: { ':path': '/x', 'content-type': 'application/json' } }],
    ['null fields are left unset', { path: null, method: 'GET', headers: null }, { method: 'GET' }],
    // a proto3 encoder (Envoy's) leaves defaults out, so the decoded input lacks them (reference §1.2)
    ['empty strings are left out', { path: '', body: '' }, {}],
    ['a zero size is left out', { size: 0, method: 'GET' }, { method: 'GET' }],
    ['a zero size string is left out', { size: '0' }, {}],
    ['empty bytes are left out', { rawBody: '' }, {}],
    ['an empty headers map is left out', { headers: {} }, {}],
  ])('HttpRequest: %s', (_name, fields, expected) => {
    expect(httpOf(http(fields))).toEqual(expected);
  });

  it('decodes rawBody to its bytes', () => {
    const message = fromProtoJson(CheckRequest, http({ rawBody: 'eyJhIjoxfQ==' })) as unknown as {
      attributes: { request: { http: { rawBody: Uint8Array } } };
    };
    expect(Buffer.from(message.attributes.request.http.rawBody).toString('utf8')).toBe('{"a":1}');
  });

  it.each<[string, unknown, number]>([
    ['an enum name', 'UDP', 1],
    ['an enum number', 1, 1],
    ['the zero name', 'TCP', 0],
  ])('SocketAddress.protocol as %s', (_name, protocol, expected) => {
    const json = { attributes: { source: { address: { socketAddress: { protocol, address: '10.0.0.1', portValue: 53 } } } } };
    const message = fromProtoJson(CheckRequest, json) as unknown as { attributes: { source: { address: { socketAddress: { protocol: number } } } } };
    expect(message.attributes.source.address.socketAddress.protocol).toBe(expected);
  });

  it('leaves out a zero enum but keeps a zero oneof member', () => {
    const json = { attributes: { source: { address: { socketAddress: { protocol: 'TCP', address: '', portValue: 0 } } } } };
    expect(plain(CheckRequest, json)['attributes']['source']['address']['socketAddress']).toEqual({ portValue: 0 });
  });

  it('keeps an empty message, which has presence', () => {
    expect(plain(CheckRequest, { attributes: { tlsSession: {} } })['attributes']).toEqual({ tlsSession: {} });
  });

  it.each<[string, string, { seconds?: number; nanos?: number }]>([
    ['UTC with microseconds', '2020-11-20T09:47:47.722473Z', { seconds: 1605865667, nanos: 722473000 }],
    ['UTC without fraction', '2020-11-20T09:47:47Z', { seconds: 1605865667 }],
    ['nanoseconds', '2020-11-20T09:47:47.000000001Z', { seconds: 1605865667, nanos: 1 }],
    ['an offset', '2020-11-20T10:47:47.5+01:00', { seconds: 1605865667, nanos: 500000000 }],
    ['a negative offset', '2020-11-20T04:47:47-05:00', { seconds: 1605865667 }],
    ['the epoch (present, both fields zero)', '1970-01-01T00:00:00Z', {}],
    ['before the epoch', '1969-12-31T23:59:59Z', { seconds: -1 }],
  ])('Request.time: %s', (_name, time, expected) => {
    const attributes = plain(CheckRequest, { attributes: { request: { time } } })['attributes'];
    expect(attributes['request']['time']).toEqual(expected);
  });

  it('turns metadata JSON into google.protobuf.Struct', () => {
    const claims = { sub: 'alice', n: 1.5, ok: true, none: null, list: [1, 'a', { deep: false }], obj: {} };
    const attributes = plain(CheckRequest, { attributes: { metadataContext: { filterMetadata: { 'envoy.filters.http.jwt_authn': claims } } } })['attributes'];
    expect(attributes['metadataContext']['filterMetadata']['envoy.filters.http.jwt_authn']).toEqual({
      fields: {
        sub: { stringValue: 'alice' },
        n: { numberValue: 1.5 },
        ok: { boolValue: true },
        none: { nullValue: 0 },
        list: { listValue: { values: [{ numberValue: 1 }, { stringValue: 'a' }, { structValue: { fields: { deep: { boolValue: false } } } }] } },
        obj: { structValue: {} },
      },
    });
  });

  it('reads an empty request', () => {
    expect(plain(CheckRequest, {})).toEqual({});
    expect(plain(CheckRequest, { attributes: {} })).toEqual({ attributes: {} });
  });

  it.each<[string, unknown, string]>([
    ['a root that is not an object', [], '(root): expected an object for envoy.service.auth.v3.CheckRequest'],
    ['a root string', 'x', '(root): expected an object'],
    ['an unknown top-level field', { attribute: {} }, '(root): unknown field "attribute" in envoy.service.auth.v3.CheckRequest'],
    ['an unknown nested field', http({ pathh: '/' }), 'attributes.request.http: unknown field "pathh"'],
    ['a misspelt snake_case name', http({ raw__body: 'x' }), 'unknown field "raw__body"'],
    ['"__proto__" as a field name', JSON.parse('{"attributes":{"__proto__":{}}}'), 'attributes: unknown field "__proto__"'],
    ['"constructor" as a field name', { attributes: { constructor: {} } }, 'attributes: unknown field "constructor"'],
    ['"toString" as a field name', { attributes: { toString: 'x' } }, 'attributes: unknown field "toString"'],
    ['a number for a string', http({ path: 5 }), 'attributes.request.http.path: expected a string'],
    ['a string for a message', { attributes: { source: 'spiffe://x' } }, 'attributes.source: expected an object'],
    ['an array for a map', http({ headers: ['a'] }), 'attributes.request.http.headers: expected an object (map)'],
    ['a number in a map', http({ headers: { a: 1 } }), 'attributes.request.http.headers.a: expected a string'],
    ['a fractional int64', http({ size: 1.5 }), 'attributes.request.http.size: expected an integer'],
    ['a non-numeric int64 string', http({ size: '12a' }), 'attributes.request.http.size: expected an integer'],
    ['a boolean int64', http({ size: true }), 'expected an integer'],
    ['bytes as a number', http({ rawBody: 12 }), 'attributes.request.http.rawBody: expected base64 text'],
    ['an unknown enum name', { attributes: { source: { address: { socketAddress: { protocol: 'SCTP' } } } } }, 'attributes.source.address.socketAddress.protocol: not a value of enum'],
    ['"toString" as an enum name', { attributes: { source: { address: { socketAddress: { protocol: 'toString' } } } } }, 'not a value of enum'],
    ['"__proto__" as an enum name', { attributes: { source: { address: { socketAddress: { protocol: '__proto__' } } } } }, 'not a value of enum'],
    ['a fractional enum number', { attributes: { source: { address: { socketAddress: { protocol: 1.5 } } } } }, 'not a value of enum'],
    ['a timestamp as a number', { attributes: { request: { time: 1605865667 } } }, 'attributes.request.time: expected an RFC 3339 timestamp'],
    ['a timestamp without a zone', { attributes: { request: { time: '2020-11-20T09:47:47' } } }, 'expected an RFC 3339 timestamp'],
    ['a date without a time', { attributes: { request: { time: '2020-11-20' } } }, 'expected an RFC 3339 timestamp'],
    ['an impossible month', { attributes: { request: { time: '2020-13-01T00:00:00Z' } } }, 'expected an RFC 3339 timestamp'],
    ['a timestamp as an object', { attributes: { request: { time: { seconds: 1 } } } }, 'expected an RFC 3339 timestamp'],
    ['a Struct that is a list', { attributes: { metadataContext: { filterMetadata: { a: [1] } } } }, 'expected an object (Struct)'],
    ['a repeated field that is not an array', http({ headerMap: { headers: { key: 'a' } } }), 'attributes.request.http.headerMap.headers: expected an array'],
  ])('rejects %s', (_name, json, message) => {
    expect(errorOf(CheckRequest, json)).toContain(message);
  });
});

describe('fromProtoJson(other types)', () => {
  it('reads a CheckResponse with a BoolValue and an enum by name', () => {
    const json = {
      status: { code: 7, message: 'denied' },
      deniedResponse: {
        status: { code: 'Forbidden' },
        headers: [{ header: { key: 'a', value: 'b' }, append: true, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' }],
        body: 'no',
      },
      dynamicMetadata: { decision_id: 'x' },
    };
    expect(plain(CheckResponse, json)).toEqual({
      status: { code: 7, message: 'denied' },
      deniedResponse: {
        status: { code: 403 },
        headers: [{ header: { key: 'a', value: 'b' }, append: { value: true }, appendAction: 2 }],
        body: 'no',
      },
      dynamicMetadata: { fields: { decision_id: { stringValue: 'x' } } },
    });
  });

  it('rejects a BoolValue that is not a boolean', () => {
    expect(errorOf(CheckResponse, { okResponse: { headers: [{ header: { key: 'a', value: 'b' }, append: 'true' }] } })).toContain(
      'okResponse.headers[0].append: expected a boolean',
    );
  });

  it.each<[string, { seconds?: number; nanos?: number }]>([
    ['1.5s', { seconds: 1, nanos: 500000000 }],
    ['30s', { seconds: 30 }],
    ['0.000000001s', { nanos: 1 }],
    ['-1.5s', { seconds: -1, nanos: -500000000 }],
    ['-0.5s', { nanos: -500000000 }],
    ['0s', {}],
  ])('reads the Duration %j', (text, expected) => {
    const duration = api.root.lookupType('google.protobuf.Duration');
    expect(plain(duration, text)).toEqual(expected);
  });

  it.each(['1m', '1.5', 's', 1.5, '1.0000000001s'])('rejects the Duration %j', (text) => {
    expect(errorOf(api.root.lookupType('google.protobuf.Duration'), text)).toContain('expected a duration');
  });
});
