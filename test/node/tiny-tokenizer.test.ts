/**
 * The trainer's built-in tiny tokenizer (@iopo/gpu-trainer) was built for the root's synthetic demo
 * corpus (demo/synthetic.ts, written from @iopo/common's synthetic-text.ts): it must spell that corpus in whole words.
 */
import { describe, expect, it } from "vitest";
import { renderPrompt } from "@iopo/common";
import { tinyTokenizer } from "@iopo/gpu-trainer";
import { generateDemoCorpus } from "../../demo/synthetic.ts";

describe("the trainer's tiny tokenizer and the demo corpus", () => {
  it("the built-in tiny tokenizer round-trips any text and covers the synthetic demo corpus with whole words", () => {
    const tok = tinyTokenizer();
    const corpus = generateDemoCorpus(5, 4, 2);
    const texts = [
      ...corpus.train.flatMap((r) => [renderPrompt(r.instruction), r.response]),
      ...[...corpus.evalSingle, ...corpus.evalMulti].map((r) => renderPrompt(r.instruction)),
      "Unicode: naïve café — 東京 🦉",
    ];
    let tokens = 0;
    let spelled = 0;
    for (const t of texts) {
      const ids = tok.encode(t);
      expect(tok.decode(ids)).toBe(t);
      tokens += ids.length;
      // a word spelled out in byte tokens shows as single letters (punctuation bytes are whole pieces)
      spelled += ids.filter(
        (id) => /^[A-Za-z]$/.test(tok.decode([id])) || (id >= 3 && id < 259 && tok.decode([id]).charCodeAt(0) > 127),
      ).length;
    }
    expect(spelled / tokens).toBeLessThan(0.03);
    // its vocabulary is built from the corpus's text: a word the generator or the judge's instruction
    // texts add without it there would be spelled out
    const unknown = new Set(texts.slice(0, -1).flatMap((t) => (t.match(/[A-Za-z]{2,}/g) ?? []).filter((w) => tok.encode(w).length > 1)));
    expect([...unknown]).toEqual([]);
    const { prompt, response } = tok.encodePair(
      [{ role: "user", content: "Write a short text about owls." }],
      "* Owls are quiet.\nP.S. [place]",
    );
    expect(tok.decode(prompt)).toBe("<|im_start|>user\nWrite a short text about owls.<|im_end|>\n<|im_start|>assistant\n");
    expect(tok.decode(response)).toBe("* Owls are quiet.\nP.S. [place]<|im_end|>\n");
  });
});
