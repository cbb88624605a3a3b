/**
 * `emoji.is_emoji(ch)` of the Python `emoji` package for a single code point: true when the code
 * point is, on its own, an entry of the Unicode emoji data (fully qualified, unqualified or a
 * component such as a skin-tone modifier). That is Unicode's `Emoji` property minus the keycap
 * bases (#, *, 0-9), which are emoji only inside a keycap sequence. Regional indicator letters
 * count, as in the package's data.
 */
const EMOJI_RE = /^\p{Emoji}$/u;
const KEYCAP_BASE_RE = /^[#*0-9]$/;

export function isEmojiChar(ch: string): boolean {
  return EMOJI_RE.test(ch) && !KEYCAP_BASE_RE.test(ch);
}
