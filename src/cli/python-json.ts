/**
 * `json.dumps(value, sort_keys=True)` as Python writes it (", " and ": " separators, non-ASCII
 * escaped as lower-case \uXXXX), so that our eval_results_*.jsonl files are byte-identical to the
 * IFEval reference's for the same verdicts.
 */
import { compareCodePoints } from "../judge/text/python-str.ts";

const SHORT_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

function dumpString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const unit = s.charCodeAt(i);
    const short = SHORT_ESCAPES[ch];
    if (short) out += short;
    // Everything outside printable ASCII, UTF-16 unit by unit (astral characters become surrogate pairs).
    else if (unit < 0x20 || unit > 0x7e) out += "\\u" + unit.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

export function pythonJsonDumps(value: unknown): string {
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "string") return dumpString(value);
  if (typeof value === "number") {
    if (!Number.isInteger(value)) throw new TypeError("pythonJsonDumps only writes integers (float repr differs from JavaScript's)");
    return String(value);
  }
  if (Array.isArray(value)) return "[" + value.map(pythonJsonDumps).join(", ") + "]";
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => compareCodePoints(a, b));
    return "{" + entries.map(([k, v]) => `${dumpString(k)}: ${pythonJsonDumps(v)}`).join(", ") + "}";
  }
  throw new TypeError(`cannot serialise ${typeof value}`);
}
