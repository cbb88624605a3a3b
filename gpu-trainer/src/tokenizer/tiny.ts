/**
 * A small tokenizer built in code, written as a real Hugging Face `tokenizer.json` and
 * `tokenizer_config.json` (so it loads through the same code path as a downloaded model, and
 * transformers can load an exported tiny model).
 *
 * It is byte-level BPE with `ignore_merges` and no merges: GPT-2's pre-tokenizer splits the text
 * into words (with their leading space), punctuation runs and whitespace; a piece that is in the
 * vocabulary is one token, anything else falls back to its UTF-8 bytes (every byte has a token).
 * So every string round-trips, and the synthetic demo corpus (its words from @iopo/common's
 * synthetic-text.ts, the text the demo's generator writes it from: short English sentences,
 * punctuation, markdown bullets "* ", "<<title>>", "[place]", "P.S.", upper and lower case) is
 * mostly whole-word tokens. The chat template is ChatML, as Qwen2's.
 */
import { syntheticCorpusWords } from "@iopo/common";

/** Common English words, for prompts outside the corpus. */
const COMMON_WORDS =
  "user assistant system what when where which who why how yes it its he she we our my me his her their an or but if so then that these those was were been has had did does will would could may one two three four five first last more most very only also just here now well good great big little up down out over into after before each every both same too never always day time way world life work make say get go know take come think want give find tell ask try call keep let begin talk turn start show play run move live write read list summary describe explain sentence paragraph word format json bold language true false hello thanks";

/** Punctuation, number and whitespace pieces seen in the corpus or common in chat text. */
const PIECES = [
  ".",
  "\n",
  ",",
  "*",
  " *",
  "*.",
  " ['",
  "']",
  " [",
  "].",
  "]",
  "[",
  "?.",
  "?",
  ":",
  " ",
  "  ",
  "\n\n",
  " <<",
  ">>.",
  "<<",
  ">>",
  "!",
  "'",
  " '",
  '"',
  ' "',
  "(",
  " (",
  ")",
  ").",
  "),",
  ";",
  "-",
  " -",
  "#",
  " #",
  "##",
  " ##",
  "...",
  "'s",
  "'t",
  "'re",
  "'ll",
  "'m",
  "'ve",
  "'d",
  " 1",
  " 2",
  " 3",
  " 4",
  " 5",
  " 6",
  " 7",
  " 8",
  " 9",
  " 10",
  " 12",
  " 15",
  " 18",
  " 20",
  " 25",
  " 30",
  " 35",
  " 40",
  " 45",
  " 50",
  " 100",
  "0",
  "1",
  "2",
  "3",
  "4",
  "5",
  "6",
  "7",
  "8",
  "9",
];

export const TINY_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] as const;

/** ChatML, as Qwen2 (without its default system prompt). */
export const TINY_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** GPT-2's byte-to-unicode table: printable bytes map to themselves, the rest to U+0100.. */
export function byteToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const out = new Array<string>(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++);
  return out;
}

const capitalize = (w: string) => w.charAt(0).toUpperCase() + w.slice(1);

/** The vocabulary pieces (plain text), in id order after the specials and the 256 bytes. */
function pieces(): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const add = (p: string) => {
    if (!seen.has(p)) {
      seen.add(p);
      out.push(p);
    }
  };
  for (const p of PIECES) add(p);
  // the corpus words in lower case, capitalised and upper case, each bare and after a space
  for (const w of syntheticCorpusWords()) for (const v of [w, capitalize(w), w.toUpperCase()]) add(v), add(` ${v}`);
  for (const w of COMMON_WORDS.split(" ")) for (const v of [w, capitalize(w)]) add(v), add(` ${v}`);
  return out;
}

/** tokenizer.json and tokenizer_config.json of the built-in tiny tokenizer. */
export function tinyTokenizerFiles(): { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown> } {
  const b2u = byteToUnicode();
  const enc = new TextEncoder();
  const toByteLevel = (s: string) => Array.from(enc.encode(s), (b) => b2u[b]).join("");
  const vocab: Record<string, number> = {};
  let id = 0;
  for (const s of TINY_SPECIAL_TOKENS) vocab[s] = id++;
  for (let b = 0; b < 256; b++) vocab[b2u[b]] = id++;
  for (const p of pieces()) {
    const t = toByteLevel(p);
    if (!(t in vocab)) vocab[t] = id++;
  }
  const added = TINY_SPECIAL_TOKENS.map((content, i) => ({
    id: i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const tokenizerJson = {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: true,
      vocab,
      merges: [],
    },
  };
  const tokenizerConfig = {
    tokenizer_class: "PreTrainedTokenizerFast",
    model_max_length: 2048,
    bos_token: null,
    eos_token: "<|im_end|>",
    pad_token: "<|endoftext|>",
    unk_token: null,
    clean_up_tokenization_spaces: false,
    chat_template: TINY_CHAT_TEMPLATE,
    added_tokens_decoder: Object.fromEntries(added.map(({ id: i, ...rest }) => [String(i), rest])),
  };
  return { tokenizerJson, tokenizerConfig };
}
