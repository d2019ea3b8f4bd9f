// src/request/json-error.ts: a JSON.parse failure described by its kind and position, never by its text.
import { describe, expect, it } from 'vitest';
import { describeJsonSyntaxError } from '../../../src/request/json-error.js';

function failureOf(text: string): unknown {
  try {
    JSON.parse(text);
  } catch (error) {
    return error;
  }
  throw new Error(`${text} parsed`);
}

describe('describeJsonSyntaxError', () => {
  it.each([
    ['hunter2-SECRET-A', 'unexpected token'],
    ['{"password": hunter2-SECRET-A}', 'unexpected token'],
    ['{"password": "hunter2-SECRET-A"', /^expected ',' or '}' after property value at position \d+$/],
    ['{"password": "hunter2-SECRET-A"}SECRET', /^unexpected non-whitespace character after json at position \d+$/],
    ['{"password": "hunter2-SECRET-A\u0001"}', /^bad control character in string literal at position \d+$/],
    ['{"password": "hunter2-SECRET-A', /^unterminated string at position \d+$/],
    ['{SECRET: 1}', "expected property name or '}' at position 1"],
    ['', 'unexpected end of input'],
  ])('%j → %s, without the text', (text, expected) => {
    const description = describeJsonSyntaxError(failureOf(text));
    if (typeof expected === 'string') expect(description).toBe(expected);
    else expect(description).toMatch(expected);
    expect(description).not.toMatch(/SECRET|hunter2|password/i);
  });

  it('a message of another shape is a plain syntax error', () => {
    expect(describeJsonSyntaxError(new SyntaxError('"SECRET" something new'))).toBe('syntax error');
    expect(describeJsonSyntaxError('not an error')).toBe('syntax error');
  });
});
