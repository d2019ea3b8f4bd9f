// Small Go value renderings crypto/x509 results carry: ASN.1 strings (parseASN1String) and net.IP text.
import { fail } from './builtin.js';
import { TAG } from './der.js';

const PRINTABLE = /^[a-zA-Z0-9'()+,\-./ :=?*&]*$/;

/** parser.go's parseASN1String: the attribute value types Go accepts in a Name. */
export function parseAsn1String(tag: number, value: Buffer): string {
  const invalid = (what: string): never => fail(`x509: invalid RDNSequence: invalid attribute value: ${what}`);
  switch (tag) {
    case TAG.T61String:
      return [...value].map((byte) => String.fromCodePoint(byte)).join('');
    case TAG.PrintableString: {
      const text = value.toString('latin1');
      if (!PRINTABLE.test(text)) invalid('invalid PrintableString');
      return text;
    }
    case TAG.UTF8String: {
      const text = new TextDecoder('utf-8', { fatal: false }).decode(value);
      if (!Buffer.from(text, 'utf8').equals(value)) invalid('invalid UTF-8 string');
      return text;
    }
    case TAG.BMPString: {
      if (value.length % 2 !== 0) invalid('invalid BMPString');
      let units = value;
      if (units.length >= 2 && units[units.length - 1] === 0 && units[units.length - 2] === 0) units = units.subarray(0, units.length - 2);
      const codes: number[] = [];
      for (let i = 0; i < units.length; i += 2) {
        const point = (units[i]! << 8) | units[i + 1]!;
        if (point === 0xfffe || point === 0xffff || (point >= 0xfdd0 && point <= 0xfdef) || (point >= 0xd800 && point <= 0xdfff)) invalid('invalid BMPString');
        codes.push(point);
      }
      return String.fromCharCode(...codes);
    }
    case TAG.IA5String: {
      const text = value.toString('latin1');
      if ([...value].some((byte) => byte > 0x7f)) invalid('invalid IA5String');
      return text;
    }
    case TAG.NumericString: {
      const text = value.toString('latin1');
      if (!/^[0-9 ]*$/.test(text)) invalid('invalid NumericString');
      return text;
    }
    default:
      return fail(`x509: invalid RDNSequence: invalid attribute value: unsupported string type: ${tag}`);
  }
}

export interface Mailbox {
  readonly local: string;
  readonly domain: string;
}

const ATEXT = /[0-9a-zA-Z!#$%&'*+\-/=?^_`{|}~.]/;

/** domainToReverseLabels's check: labels of visible ASCII, none empty. */
function domainLabelsValid(domain: string): boolean {
  if (domain.length === 0) return true;
  return domain.split('.').every((label) => label.length > 0 && [...label].every((c) => c.charCodeAt(0) >= 33 && c.charCodeAt(0) <= 126));
}

/** parseRFC2821Mailbox: a quoted or dot-atom local part, '@', a domain of valid labels. */
export function parseMailbox(text: string): Mailbox | undefined {
  if (text.length === 0) return undefined;
  let rest = text;
  let local = '';
  if (rest[0] === '"') {
    rest = rest.slice(1);
    for (;;) {
      if (rest.length === 0) return undefined;
      const c = rest.charCodeAt(0);
      rest = rest.slice(1);
      if (c === 0x22) break;
      if (c === 0x5c) {
        if (rest.length === 0) return undefined;
        const next = rest.charCodeAt(0);
        if (next === 11 || next === 12 || (next >= 1 && next <= 9) || (next >= 14 && next <= 127)) {
          local += rest[0];
          rest = rest.slice(1);
        } else {
          return undefined;
        }
      } else if (c === 11 || c === 12 || c === 32 || c === 33 || c === 127 || (c >= 1 && c <= 8) || (c >= 14 && c <= 31) || (c >= 35 && c <= 91) || (c >= 93 && c <= 126)) {
        local += String.fromCharCode(c);
      } else {
        return undefined;
      }
    }
  } else {
    while (rest.length > 0) {
      let c = rest[0]!;
      if (c === '\\') {
        rest = rest.slice(1);
        if (rest.length === 0) return undefined;
        c = rest[0]!;
        // Go's fallthrough appends the escaped byte whatever it is.
        local += c;
        rest = rest.slice(1);
        continue;
      }
      if (!ATEXT.test(c)) break;
      local += c;
      rest = rest.slice(1);
    }
    if (local.length === 0 || local.startsWith('.') || local.endsWith('.') || local.includes('..')) return undefined;
  }
  if (rest.length === 0 || rest[0] !== '@') return undefined;
  const domain = rest.slice(1);
  if (domain.startsWith('.') && domain.length === 1) return undefined;
  if (!domainLabelsValid(domain)) return undefined;
  return { local, domain };
}
