// ASN.1 UTCTime and GeneralizedTime as cryptobyte reads them, and time.Time as encoding/json writes it (RFC 3339).

/** A parsed time, with the UTC offset (minutes) Go keeps in its time.Location for the JSON text. */
export type CertificateTime = Date & { goText: string };

function build(year: number, month: number, day: number, hour: number, minute: number, second: number, nanos: number, zone: string): CertificateTime | undefined {
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return undefined;
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day < 1 || day > daysInMonth) return undefined;
  let offsetMinutes = 0;
  if (zone !== 'Z') {
    const hours = Number(zone.slice(1, 3));
    const minutes = Number(zone.slice(3, 5));
    if (hours > 23 || minutes > 59) return undefined;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
    // Go parses a zero offset as UTC, which formats back as "Z", so cryptobyte's round trip refuses "+0000".
    if (offsetMinutes === 0) return undefined;
  }
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999.
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day);
  utc.setUTCHours(hour, minute, second, 0);
  utc.setTime(utc.getTime() - offsetMinutes * 60_000);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const fraction = nanos === 0 ? '' : `.${String(nanos).padStart(9, '0').replace(/0+$/, '')}`;
  const suffix = offsetMinutes === 0 && zone === 'Z' ? 'Z' : `${zone[0]}${zone.slice(1, 3)}:${zone.slice(3, 5)}`;
  const goText = `${pad(year, 4)}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}${fraction}${suffix}`;
  return Object.assign(utc, { goText });
}

/** ReadASN1UTCTime: YYMMDDHHMM[SS] then Z or ±hhmm; years 50–99 are 19xx. */
export function parseUtcTime(text: string): CertificateTime | undefined {
  const match = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})$/.exec(text);
  if (match === null) return undefined;
  const yy = Number(match[1]);
  const year = yy >= 50 ? 1900 + yy : 2000 + yy;
  return build(year, Number(match[2]), Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6] ?? '0'), 0, match[7]!);
}

/**
 * A GeneralizedTime whose re-formatting gives the text back: "20060102150405Z0700" for cryptobyte's
 * ReadASN1GeneralizedTime (certificates: no fractions), "20060102150405.999999999Z0700" for encoding/asn1
 * (values in a CSR's attributes).
 */
export function parseGeneralizedTime(text: string, allowFraction = false): CertificateTime | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{0,8}[1-9]))?(Z|[+-]\d{4})$/.exec(text);
  if (match === null || (!allowFraction && match[7] !== undefined)) return undefined;
  const nanos = match[7] === undefined ? 0 : Number(match[7].padEnd(9, '0'));
  return build(Number(match[1]), Number(match[2]), Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6]), nanos, match[8]!);
}

/** time.Time.MarshalJSON (RFC 3339 with nanoseconds, trailing zeros dropped). */
export function formatGoTime(time: CertificateTime): string {
  return time.goText;
}
