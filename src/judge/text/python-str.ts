/**
 * Python `str` semantics that the IFEval reference relies on, for JavaScript strings.
 *
 * The reference is Python: its `strip()`, `split()`, `isupper()`, `\s`, `\w` and `\d` are all
 * Unicode-aware and differ from JavaScript's `trim()`, `/\s/` and `/\w/` in small ways that change
 * verdicts (e.g. U+0085 and U+001C..U+001F are whitespace in Python, U+FEFF is not; `\w` covers
 * every letter and number, not just ASCII). Everything here works on UTF-16 strings but classifies
 * whole code points, as Python does.
 */

/** Body of a regex character class matching Python's `str.isspace()` (all BMP, so code units suffice). */
export const PY_WHITESPACE = "\\t\\n\\v\\f\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
/** Body of a regex character class (with the `u` flag) matching Python's `\w` (`str.isalnum()` or `_`). */
export const PY_WORD = "\\p{L}\\p{N}_";
/** Body of a regex character class matching Python's `\d` (Unicode decimal digits). */
export const PY_DIGIT = "\\p{Nd}";

const WHITESPACE_RE = new RegExp(`[${PY_WHITESPACE}]`);
const WORD_CHAR_RE = new RegExp(`[${PY_WORD}]`, "u");
const LEADING_WHITESPACE_RE = new RegExp(`^[${PY_WHITESPACE}]+`);
const WHITESPACE_RUN_RE = new RegExp(`[${PY_WHITESPACE}]+`);
const LOWER_OR_TITLE_RE = /[\p{Lowercase}\p{Lt}]/u;
const UPPER_OR_TITLE_RE = /[\p{Uppercase}\p{Lt}]/u;
const UPPER_RE = /\p{Uppercase}/u;
const LOWER_RE = /\p{Lowercase}/u;

/** Python `ch.isspace()` for one UTF-16 code unit (every Python whitespace character is in the BMP). */
export function isPyWhitespaceUnit(unit: number): boolean {
  return (
    (unit >= 0x09 && unit <= 0x0d) ||
    (unit >= 0x1c && unit <= 0x20) ||
    unit === 0x85 ||
    unit === 0xa0 ||
    unit === 0x1680 ||
    (unit >= 0x2000 && unit <= 0x200a) ||
    unit === 0x2028 ||
    unit === 0x2029 ||
    unit === 0x202f ||
    unit === 0x205f ||
    unit === 0x3000
  );
}

/** Python `ch.isspace()` for a one-character string. */
export function isPyWhitespace(ch: string): boolean {
  return WHITESPACE_RE.test(ch);
}

/** Python `\w` for one code point given as a string. */
export function isPyWordChar(ch: string): boolean {
  return WORD_CHAR_RE.test(ch);
}

/** Python `s.strip()` (no argument): strips Unicode whitespace as Python defines it. */
export function pyStrip(s: string): string {
  return pyRstrip(pyLstrip(s));
}

export function pyLstrip(s: string): string {
  return s.replace(LEADING_WHITESPACE_RE, "");
}

export function pyRstrip(s: string): string {
  // A reverse scan instead of /[ws]+$/: that regex retries every whitespace run in the string,
  // which is quadratic on inputs made of many long whitespace runs.
  let end = s.length;
  while (end > 0 && isPyWhitespaceUnit(s.charCodeAt(end - 1))) end--;
  return end === s.length ? s : s.slice(0, end);
}

/** True if `s.strip()` would be empty. */
export function isPyBlank(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isPyWhitespaceUnit(s.charCodeAt(i))) return false;
  return true;
}

/** Python `s.strip(chars)` / `lstrip(chars)` / `rstrip(chars)` for a set of BMP characters. */
export function pyStripChars(s: string, chars: string, side: "both" | "left" | "right" = "both"): string {
  let start = 0;
  let end = s.length;
  if (side !== "right") while (start < end && chars.includes(s[start]!)) start++;
  if (side !== "left") while (end > start && chars.includes(s[end - 1]!)) end--;
  return s.slice(start, end);
}

/** Python `s.split()` (no argument): splits on runs of whitespace, dropping empty strings. */
export function pySplitWhitespace(s: string): string[] {
  const stripped = pyStrip(s);
  return stripped === "" ? [] : stripped.split(WHITESPACE_RUN_RE);
}

/** Python `s.isupper()`: at least one cased character and no lowercase or titlecase one. */
export function pyIsUpper(s: string): boolean {
  return !LOWER_OR_TITLE_RE.test(s) && UPPER_RE.test(s);
}

/** Python `s.islower()`: at least one cased character and no uppercase or titlecase one. */
export function pyIsLower(s: string): boolean {
  return !UPPER_OR_TITLE_RE.test(s) && LOWER_RE.test(s);
}

/**
 * Python `s.lower()`. JavaScript's `toLowerCase()` applies the same full Unicode mappings
 * (including U+0130 -> "i\u0307" and the final-sigma rule); only the Unicode version may differ.
 */
export function pyLower(s: string): string {
  return s.toLowerCase();
}

/** Code points of `s` (lone surrogates are kept as their own code point, as Python does). */
export function codePoints(s: string): Uint32Array {
  const out = new Uint32Array(s.length);
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        out[n++] = ((unit - 0xd800) << 10) + (next - 0xdc00) + 0x10000;
        i++;
        continue;
      }
    }
    out[n++] = unit;
  }
  return out.subarray(0, n);
}

/** Python `len(s)`: the number of code points. */
export function pyLen(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}

/** Compares strings by code point, as Python's `sorted()` does (JavaScript's sort compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const x = codePoints(a);
  const y = codePoints(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

const NON_PRINTABLE_RE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

/** Python `repr(s)` for a string, used to render instruction texts exactly like the reference. */
export function pyReprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === quote || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (ch !== " " && NON_PRINTABLE_RE.test(ch)) {
      const cp = ch.codePointAt(0)!;
      if (cp < 0x100) out += "\\x" + cp.toString(16).padStart(2, "0");
      else if (cp < 0x10000) out += "\\u" + cp.toString(16).padStart(4, "0");
      else out += "\\U" + cp.toString(16).padStart(8, "0");
    } else out += ch;
  }
  return out + quote;
}

/** Python `repr(list_of_str)`. */
export function pyReprList(items: readonly string[]): string {
  return "[" + items.map(pyReprString).join(", ") + "]";
}
