/**
 * Part-of-speech tags for `words:start_verb`. The reference tags `nltk.word_tokenize(response)`
 * with NLTK's averaged-perceptron English model and asks whether the first tag contains "VB".
 * NLTK's model is not available as a JavaScript package (nor small enough to bundle), so we tag
 * the same tokens with `wink-pos-tagger` (MIT; Penn Treebank tags, lexicon plus rules). Both
 * use the Penn tag set; they disagree on some sentence-initial words (see README.md).
 */
import winkPosTagger from "wink-pos-tagger";

let tagger: ReturnType<typeof winkPosTagger> | undefined;

/** Penn Treebank tags of the given tokens (already tokenized). */
export function posTags(tokens: readonly string[]): string[] {
  if (tokens.length === 0) return [];
  tagger ??= winkPosTagger();
  return tagger.tagRawTokens([...tokens]).map((token) => token.pos);
}
