/**
 * Canonical JSON (RFC 8785 for the values we use: strings, safe integers, booleans, null,
 * arrays and plain objects): keys sorted by UTF-16 code units, no whitespace. Used for every
 * hash and signature so any implementation can recompute them.
 *
 * Runs for every stored frame (tag, audit entry), so it builds the string in one pass rather
 * than through intermediate arrays. Array.prototype.sort without a comparator orders strings by
 * UTF-16 code units, which is what RFC 8785 asks for.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError('canonical JSON: non-finite number');
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
        return `${out}]`;
      }
      const record = value as Record<string, unknown>;
      let out = '{';
      for (const key of Object.keys(record).sort()) {
        const v = record[key];
        if (v === undefined) continue;
        out += `${out.length === 1 ? '' : ','}${JSON.stringify(key)}:${canonicalJson(v)}`;
      }
      return `${out}}`;
    }
    default:
      throw new TypeError(`canonical JSON: unsupported ${typeof value}`);
  }
}
