/**
 * Counters for the markdown-ish structure IFEval checks (placeholders, bullets, highlights,
 * sections, `***` paragraphs, titles). Each reproduces what the reference's Python regular
 * expression finds with `re.findall` / `re.split`; the ones whose regex would backtrack
 * quadratically on adversarial input (long lines of "[", runs of blank lines, "<<<<...") are
 * written as linear scans instead, with the regex quoted for reference.
 */
import { findOccurrences } from "../text/literal-search.ts";
import { codePoints, isPyBlank, isPyWhitespaceUnit, pyStrip, pyStripChars } from "../text/python-str.ts";

const NEWLINE = 0x0a;

/** For each index i, the index of the next `unit` at or after i (or `text.length`). */
function nextIndexOf(text: string, unit: number): Int32Array {
  const next = new Int32Array(text.length + 1);
  next[text.length] = text.length;
  for (let i = text.length - 1; i >= 0; i--) next[i] = text.charCodeAt(i) === unit ? i : next[i + 1]!;
  return next;
}

/** `len(re.findall(r"\[.*?\]", text))`: "[" then the nearest "]" on the same line. */
export function countPlaceholders(text: string): number {
  const nextClose = nextIndexOf(text, 0x5d);
  const nextNewline = nextIndexOf(text, NEWLINE);
  let count = 0;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 0x5b) continue;
    const close = nextClose[i + 1]!;
    if (close < text.length && close < nextNewline[i + 1]!) {
      count++;
      i = close; // matches do not overlap
    }
  }
  return count;
}

/**
 * `len(re.findall(r"^\s*\*[^\*].*$", text, re.M)) + len(re.findall(r"^\s*-.*$", text, re.M))`.
 *
 * At a line start, `\s*` takes the whole whitespace run (newlines included, so a bullet may sit
 * after blank lines) and the marker must follow it; `[^\*]` may itself be a newline. A match runs
 * to the end of its line, and the next search resumes there.
 */
export function countBulletLines(text: string): number {
  // nonWhitespaceFrom[i]: first index >= i that is not Python whitespace.
  const nonWhitespaceFrom = new Int32Array(text.length + 1);
  nonWhitespaceFrom[text.length] = text.length;
  for (let i = text.length - 1; i >= 0; i--) {
    nonWhitespaceFrom[i] = isPyWhitespaceUnit(text.charCodeAt(i)) ? nonWhitespaceFrom[i + 1]! : i;
  }
  const nextNewline = nextIndexOf(text, NEWLINE);
  const countMarker = (marker: "*" | "-"): number => {
    let count = 0;
    let i = 0;
    while (i <= text.length) {
      const atLineStart = i === 0 || text.charCodeAt(i - 1) === NEWLINE;
      const q = nonWhitespaceFrom[i]!;
      if (atLineStart && q < text.length && text[q] === marker) {
        if (marker === "-") {
          count++;
          i = nextNewline[q + 1]!;
          continue;
        }
        if (q + 1 < text.length && text[q + 1] !== "*") {
          count++;
          i = q + 2 <= text.length ? nextNewline[q + 2]! : text.length;
          continue;
        }
      }
      i++;
    }
    return count;
  };
  return countMarker("*") + countMarker("-");
}

/**
 * Highlighted sections: `*text*` spans (`\*[^\n\*]*\*`) plus `**text**` spans
 * (`\*\*[^\n\*]*\*\*`) whose text is not blank. Both regexes are linear (the inner class excludes
 * the delimiter), so they are used as they are.
 */
export function countHighlights(text: string): number {
  let count = 0;
  for (const match of text.matchAll(/\*[^\n*]*\*/gu)) if (!isPyBlank(match[0].slice(1, -1))) count++;
  for (const match of text.matchAll(/\*\*[^\n*]*\*\*/gu)) if (!isPyBlank(match[0].slice(2, -2))) count++;
  return count;
}

/**
 * `len(re.split(r"\s?" + splitter + r"\s?\d+\s?", text)) - 1` with `splitter` taken literally
 * (case-sensitive): the number of non-overlapping "<splitter> <number>" markers.
 * The optional whitespace before the splitter never changes where a match ends, so only
 * splitter occurrences followed by optional whitespace and digits are counted.
 */
export function countSectionMarkers(text: string, splitter: string): number {
  const units = codePoints(text);
  const needle = codePoints(splitter);
  const isDigit = (cp: number | undefined): boolean => cp !== undefined && /\p{Nd}/u.test(String.fromCodePoint(cp));
  const isSpace = (cp: number | undefined): boolean => cp !== undefined && cp <= 0xffff && isPyWhitespaceUnit(cp);
  let count = 0;
  let resumeAt = 0;
  for (const start of findOccurrences(units, needle, true)) {
    if (start < resumeAt) continue;
    let j = start + needle.length;
    if (isSpace(units[j]) && isDigit(units[j + 1])) j++;
    if (!isDigit(units[j])) continue;
    while (isDigit(units[j])) j++;
    if (isSpace(units[j])) j++;
    count++;
    resumeAt = j;
  }
  return count;
}

/**
 * `re.split(r"\s?\*\*\*\s?", text)`: the parts between "***" dividers (each divider takes at
 * most one whitespace character on either side).
 */
export function splitOnStarDividers(text: string): string[] {
  const parts: string[] = [];
  let partStart = 0;
  let i = 0;
  for (;;) {
    // The leftmost divider at or after i: "***", or one whitespace character and "***".
    const stars = text.indexOf("***", i);
    if (stars < 0) break;
    const start = stars > i && isPyWhitespaceUnit(text.charCodeAt(stars - 1)) ? stars - 1 : stars;
    let end = stars + 3;
    if (end < text.length && isPyWhitespaceUnit(text.charCodeAt(end))) end++;
    parts.push(text.slice(partStart, start));
    partStart = end;
    i = end;
  }
  parts.push(text.slice(partStart));
  return parts;
}

/**
 * The first title `<<...>>` whose content is not blank, or undefined. The reference runs
 * `re.findall(r"<<[^\n]+>>", text)`: on each line the earliest "<<" pairs with the LAST ">>"
 * (greedy), so each line holds at most one candidate; it then strips "<" and ">" and whitespace.
 */
export function findTitle(text: string): string | undefined {
  for (const line of text.split("\n")) {
    const open = line.indexOf("<<");
    const lastClose = line.lastIndexOf(">>");
    // at least one character between "<<" and ">>"
    if (open < 0 || open + 3 > lastClose) continue;
    const candidate = line.slice(open, lastClose + 2);
    const content = pyStrip(pyStripChars(pyStripChars(candidate, "<", "left"), ">", "right"));
    if (content !== "") return candidate;
  }
  return undefined;
}
