// The part of wink-pos-tagger's API that pos-tag.ts uses (the package ships no type declarations).
declare module "wink-pos-tagger" {
  interface TaggedToken {
    value: string;
    tag: string;
    normal: string;
    pos: string;
    lemma?: string;
  }
  interface Tagger {
    tagRawTokens(tokens: string[]): TaggedToken[];
  }
  export default function winkPosTagger(): Tagger;
}
