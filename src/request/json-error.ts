// A JSON.parse failure described without the text that failed: V8's messages quote the input ("hunter2" is
// not valid JSON), and a request body's text must never reach the log.

// V8's messages that carry a position: plain words, with a quoted punctuation character at most, then the
// position (`Expected ',' or '}' after property value in JSON at position 7`).
// One character per repetition, so a failed match cannot backtrack more than linearly.
const WORDS_AT_POSITION = /^((?:[A-Za-z -]|'[,:{}[\]"]')+) at position (\d+)/;

/** What was wrong, from the message's fixed vocabulary and the position only; never any of the input. */
export function describeJsonSyntaxError(error: unknown): string {
  const message = error instanceof Error ? error.message : '';
  const positioned = WORDS_AT_POSITION.exec(message);
  if (positioned !== null) return `${positioned[1]!.replace(/ in JSON$/, '').trim().toLowerCase()} at position ${positioned[2]}`;
  if (message.startsWith('Unexpected end of JSON input')) return 'unexpected end of input';
  // `Unexpected token 'h', "hunter2" is not valid JSON`: the token and the text are the input itself.
  if (message.startsWith('Unexpected token')) return 'unexpected token';
  return 'syntax error';
}
