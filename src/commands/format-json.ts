// JSON text indented as JSON.stringify(value, null, 2) would, without parsing it: the text's own numbers
// (integers beyond 2^53 keep every digit) and no recursion, so an input nested 10,000 deep prints.

/** `text` (valid JSON) with two-space indentation. */
export function formatJson(text: string): string {
  const parts: string[] = [];
  let depth = 0;
  let runStart = -1; // start of a run of characters copied as they are (strings, numbers, literals)
  const flush = (end: number): void => {
    if (runStart !== -1) parts.push(text.slice(runStart, end));
    runStart = -1;
  };
  const newline = (): void => {
    parts.push('\n' + '  '.repeat(depth));
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i]!;
    if (char === '"') {
      if (runStart === -1) runStart = i;
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
      continue;
    }
    if (char === ' ' || char === '\n' || char === '\r' || char === '\t') {
      flush(i);
      continue;
    }
    if (char === '{' || char === '[') {
      flush(i);
      const close = char === '{' ? '}' : ']';
      let next = i + 1;
      while (next < text.length && /\s/.test(text[next]!)) next++;
      if (text[next] === close) {
        parts.push(char + close);
        i = next;
        continue;
      }
      parts.push(char);
      depth++;
      newline();
      continue;
    }
    if (char === '}' || char === ']') {
      flush(i);
      depth--;
      newline();
      parts.push(char);
      continue;
    }
    if (char === ',') {
      flush(i);
      parts.push(',');
      newline();
      continue;
    }
    if (char === ':') {
      flush(i);
      parts.push(': ');
      continue;
    }
    if (runStart === -1) runStart = i;
  }
  flush(text.length);
  return parts.join('');
}
