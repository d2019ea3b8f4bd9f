// Differential cases of providers.aws.sign_req: SigV4 of http.send-shaped requests at fixed times.
import type { Cases } from '../differential.js';

const CONFIG = '{"aws_service": "execute-api", "aws_access_key": "AKIDEXAMPLE", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "aws_region": "us-east-1"}';
const S3 = '{"aws_service": "s3", "aws_access_key": "AKIDEXAMPLE", "aws_secret_access_key": "secret", "aws_region": "eu-west-1"}';
// 2015-08-30T12:36:00Z, the time of AWS's own SigV4 test suite.
const T = '1440938160000000000';

const sign = (request: string, config = CONFIG, time = T): string => `providers.aws.sign_req(${request}, ${config}, ${time})`;

export const awsCases: Cases = {
  get: sign('{"method": "GET", "url": "https://example.amazonaws.com/"}'),
  get_query: sign('{"method": "GET", "url": "https://example.amazonaws.com/a/b?Param2=value2&Param1=value1"}'),
  get_headers: sign('{"method": "GET", "url": "https://example.amazonaws.com/", "headers": {"My-Header1": "value1", "X-Custom": "b, c"}}'),
  ignored_headers: sign('{"method": "GET", "url": "https://example.amazonaws.com/", "headers": {"User-Agent": "curl", "Authorization": "old", "X-Amzn-Trace-Id": "t"}}'),
  host_header: sign('{"method": "GET", "url": "https://example.amazonaws.com:8443/", "headers": {"Host": "other.example"}}'),
  date_header_override: sign('{"method": "GET", "url": "https://example.amazonaws.com/", "headers": {"X-Amz-Date": "19700101T000000Z"}}'),
  non_string_header: sign('{"method": "GET", "url": "https://example.amazonaws.com/", "headers": {"X-Number": 1, "X-Bool": true}}'),
  post_body: sign('{"method": "POST", "url": "https://example.amazonaws.com/", "body": {"b": [1, "<&>"], "a": null}}'),
  post_raw_body: sign('{"method": "POST", "url": "https://example.amazonaws.com/", "raw_body": "Param1=value1", "body": {"ignored": true}}'),
  raw_body_not_string: sign('{"method": "POST", "url": "https://example.amazonaws.com/", "raw_body": 5}'),
  null_body: sign('{"method": "POST", "url": "https://example.amazonaws.com/", "body": null}'),
  s3: sign('{"method": "PUT", "url": "https://bucket.s3.amazonaws.com/key%20with%20space.txt", "raw_body": "hello"}', S3),
  s3_unsigned: sign(
    '{"method": "PUT", "url": "https://bucket.s3.amazonaws.com/k", "raw_body": "hello"}',
    '{"aws_service": "s3", "aws_access_key": "A", "aws_secret_access_key": "S", "aws_region": "eu-west-1", "disable_payload_signing": true}',
  ),
  glacier: sign('{"method": "GET", "url": "https://glacier.us-east-1.amazonaws.com/-/vaults"}', '{"aws_service": "glacier", "aws_access_key": "A", "aws_secret_access_key": "S", "aws_region": "us-east-1"}'),
  session_token: sign(
    '{"method": "GET", "url": "https://sts.amazonaws.com/"}',
    '{"aws_service": "sts", "aws_access_key": "A", "aws_secret_access_key": "S", "aws_region": "us-east-1", "aws_session_token": "TOKEN"}',
  ),
  session_token_not_string: sign(
    '{"method": "GET", "url": "https://sts.amazonaws.com/"}',
    '{"aws_service": "sts", "aws_access_key": "A", "aws_secret_access_key": "S", "aws_region": "us-east-1", "aws_session_token": 1}',
  ),
  path_escaped: sign('{"method": "GET", "url": "https://example.amazonaws.com/a%2Fb/c d/é/~x"}'),
  path_reencoded: sign('{"method": "GET", "url": "https://example.amazonaws.com/%7Efoo/%41"}'),
  path_empty: sign('{"method": "GET", "url": "https://example.amazonaws.com"}'),
  extra_keys_kept: sign('{"method": "GET", "url": "https://example.amazonaws.com/", "timeout": "5s", "raise_error": false}'),
  before_epoch: sign('{"method": "GET", "url": "https://example.amazonaws.com/"}', CONFIG, '-1'),
  epoch: sign('{"method": "GET", "url": "https://example.amazonaws.com/"}', CONFIG, '0'),
  lowercase_method: sign('{"method": "get", "url": "https://example.amazonaws.com/"}'),
  authorization_only: { body: `r := ${sign('{"method": "GET", "url": "https://example.amazonaws.com/"}')}; x := r.headers.Authorization` },
  body_float: sign('{"method": "POST", "url": "https://example.amazonaws.com/", "body": {"f": 1.5, "i": 10, "neg": -2, "s": "é\\u2028"}}'),
  body_array: sign('{"method": "POST", "url": "https://example.amazonaws.com/", "body": [1, "two", {"b": 1, "a": 2}]}'),
  body_string: sign('{"method": "POST", "url": "https://example.amazonaws.com/", "body": "text"}'),
  query_escapes: sign('{"method": "GET", "url": "https://example.amazonaws.com/?a=b%20c&x=%7E&y=1+2"}'),
  fragment_userinfo: sign('{"method": "GET", "url": "https://user:pass@example.amazonaws.com/p#frag"}'),
  dot_segments: sign('{"method": "GET", "url": "https://example.amazonaws.com/a/../b/./c"}'),
  opaque_url: sign('{"method": "GET", "url": "mailto:someone@example.com"}'),
  header_order_bytes: sign('{"method": "GET", "url": "https://x.example/", "headers": {"Zeta": "1", "alpha": "2", "X-Ümlaut": "3", "x-b": " spaced  value "}}'),
  empty_secret: sign('{"method": "GET", "url": "https://x.example/"}', '{"aws_service": "", "aws_access_key": "", "aws_secret_access_key": "", "aws_region": ""}'),
  // Go signs a number as its literal text (1.0, 1e3); the wasm module hands over the value (a known difference).
  body_number_text: `${sign('{"method": "POST", "url": "https://example.amazonaws.com/", "body": {"one": 1.0, "big": 1e3, "exp": 2.5e-3}}')}.headers.Authorization`,
  // Errors: each makes the call undefined (wrong types come from input, which the type checker cannot see).
  missing_region: sign('{"method": "GET", "url": "https://example.amazonaws.com/"}', '{"aws_service": "s3", "aws_access_key": "A", "aws_secret_access_key": "S"}'),
  config_not_string: sign('{"method": "GET", "url": "https://example.amazonaws.com/"}', '{"aws_service": "s3", "aws_access_key": "A", "aws_secret_access_key": 1, "aws_region": "r"}'),
  payload_flag_not_bool: sign('{"method": "GET", "url": "https://x/"}', '{"aws_service": "s3", "aws_access_key": "A", "aws_secret_access_key": "S", "aws_region": "r", "disable_payload_signing": "yes"}'),
  unknown_request_key: sign('{"method": "GET", "url": "https://example.amazonaws.com/", "verb": "GET"}'),
  missing_url: sign('{"method": "GET"}'),
  url_not_string: sign('{"method": "GET", "url": 1}'),
  method_not_string: sign('{"method": 1, "url": "https://x/"}'),
  headers_not_object: sign('{"method": "GET", "url": "https://x/", "headers": ["a"]}'),
  bad_url: sign('{"method": "GET", "url": "https://x/%zz"}'),
  bad_host: sign('{"method": "GET", "url": "http://[::1/"}'),
  time_fraction: sign('{"method": "GET", "url": "https://x/"}', CONFIG, '1.5'),
  time_string: sign('{"method": "GET", "url": "https://x/"}', CONFIG, 'input.string'),
  time_too_large: sign('{"method": "GET", "url": "https://x/"}', CONFIG, '1e19'),
  request_not_object: sign('input.string'),
  config_not_object: sign('{"method": "GET", "url": "https://x/"}', 'input.numbers'),
};
