/**
 * Counters for the markdown-ish structure IFEval checks (placeholders, bullets, highlights,
 * sections, `***` paragraphs, titles). Each reproduces what the reference's Python regular
 * expression finds with `re.findall` / `re.split`; the ones whose regex would backtrack
 * quadratically on adversarial input (long lines of "[", runs of blank lines, "<<<<...") are
 * written as linear scans instead, with the regex quoted for reference.
 */
import { findOccurrences, type Span, unitOffsets } from "../text/literal-search.ts";
import { codePoints, isPyBlank, isPyWhitespaceUnit, pyStrip, pyStripChars } from "../text/python-str.ts";

const STAR = 0x2a;
const DASH = 0x2d;

/**
 * `text.indexOf(unit, from)` answered from the last search when that one's answer still lies
 * ahead: positions only move forward, so each character is searched past once (linear even on
 * a megabyte of "[" without "]"). Not found is `text.length`.
 */
function forwardSearch(text: string, unit: string): (from: number) => number {
  let found = -1;
  return (from) => {
    if (found < from) {
      found = text.indexOf(unit, from);
      if (found < 0) found = text.length;
    }
    return found;
  };
}

/**
 * The matches of `re.findall(r"\[.*?\]", text)` as [start, end) code-unit spans: "[" then the
 * nearest "]" on the same line. Their number is the reference's placeholder count.
 */
export function placeholderSpans(text: string): [number, number][] {
  const nextClose = forwardSearch(text, "]");
  const nextNewline = forwardSearch(text, "\n");
  const spans: [number, number][] = [];
  for (let open = text.indexOf("["); open >= 0; ) {
    const close = nextClose(open + 1);
    if (close < text.length && close < nextNewline(open + 1)) {
      spans.push([open, close + 1]);
      open = text.indexOf("[", close + 1); // matches do not overlap
    } else open = text.indexOf("[", open + 1);
  }
  return spans;
}

/**
 * `len(re.findall(r"^\s*\*[^\*].*$", text, re.M)) + len(re.findall(r"^\s*-.*$", text, re.M))`.
 *
 * At a line start, `\s*` takes the whole whitespace run (newlines included, so a bullet may sit
 * after blank lines) and the marker must follow it; `[^\*]` may itself be a newline. A match runs
 * to the end of its line, and the next search resumes at the next line start.
 */
export function countBulletLines(text: string): number {
  const countMarker = (marker: number): number => {
    let count = 0;
    // The first non-whitespace index at or after the last line start examined: line starts
    // inside the same whitespace run share it, so no run is scanned twice.
    let q = -1;
    for (let lineStart = 0; lineStart <= text.length; ) {
      if (q < lineStart) {
        q = lineStart;
        while (q < text.length && isPyWhitespaceUnit(text.charCodeAt(q))) q++;
      }
      let matchEnd = lineStart; // the next line start is the first one after the match's line
      if (q < text.length && text.charCodeAt(q) === marker) {
        if (marker === DASH) {
          count++;
          matchEnd = q + 1;
        } else if (q + 1 < text.length && text.charCodeAt(q + 1) !== STAR) {
          count++;
          matchEnd = q + 2;
        }
      }
      const newline = text.indexOf("\n", matchEnd);
      if (newline < 0) break;
      lineStart = newline + 1;
    }
    return count;
  };
  return countMarker(STAR) + countMarker(DASH);
}

/**
 * Highlighted sections: `*text*` spans (`\*[^\n\*]*\*`) plus `**text**` spans
 * (`\*\*[^\n\*]*\*\*`) whose text is not blank, as UTF-16 spans (the count is their number).
 * Both regexes are linear (the inner class excludes the delimiter), so they are used as they are.
 */
export function highlightSpans(text: string): Span[] {
  const spans: Span[] = [];
  for (const match of text.matchAll(/\*[^\n*]*\*/gu))
    if (!isPyBlank(match[0].slice(1, -1))) spans.push([match.index, match.index + match[0].length]);
  for (const match of text.matchAll(/\*\*[^\n*]*\*\*/gu))
    if (!isPyBlank(match[0].slice(2, -2))) spans.push([match.index, match.index + match[0].length]);
  return spans;
}

/**
 * `len(re.split(r"\s?" + splitter + r"\s?\d+\s?", text)) - 1` with `splitter` taken literally
 * (case-sensitive): the non-overlapping "<splitter> <number>" markers (their number is the count),
 * as UTF-16 spans of the splitter and its number.
 * The optional whitespace before the splitter never changes where a match ends, so only
 * splitter occurrences followed by optional whitespace and digits are counted.
 */
export function sectionMarkerSpans(text: string, splitter: string): Span[] {
  const units = codePoints(text);
  const needle = codePoints(splitter);
  const toUnit = unitOffsets(text, units);
  const isDigit = (cp: number | undefined): boolean => cp !== undefined && /\p{Nd}/u.test(String.fromCodePoint(cp));
  const isSpace = (cp: number | undefined): boolean => cp !== undefined && cp <= 0xffff && isPyWhitespaceUnit(cp);
  const spans: Span[] = [];
  let resumeAt = 0;
  for (const start of findOccurrences(units, needle, true)) {
    if (start < resumeAt) continue;
    let j = start + needle.length;
    if (isSpace(units[j]) && isDigit(units[j + 1])) j++;
    if (!isDigit(units[j])) continue;
    while (isDigit(units[j])) j++;
    spans.push([toUnit(start), toUnit(j)]);
    if (isSpace(units[j])) j++;
    resumeAt = j;
  }
  return spans;
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
