/**
 * The model side of the IOPO trainer: the decoder graph against an independent float64 forward,
 * LoRA, safetensors and HF folders, the tokenizer and chat template, config validation.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createWasmEngine, ReferenceEngine, type Engine } from "@iopo/graph";
import { UnsupportedModelError, parseHfConfig, ropeInvFreq } from "../src/model/config.ts";
import { type LoraConfig, type ModelWeights, asF32, loraNames } from "../src/model/decoder.ts";
import { loadModel } from "../src/model/index.ts";
import {
  SafetensorsFile,
  decodeToF32,
  encodeFromF32,
  openCheckpointWeights,
  writeCheckpointWeights,
  writeSafetensors,
} from "../src/model/safetensors.ts";
import { mergeLora, saveHfModel, toHfTensors } from "../src/model/weights.ts";
import { ChatTokenizer } from "../src/tokenizer/index.ts";
import { collate, encodeExample } from "../src/train/batch.ts";
import { LogprobRunner } from "../src/train/graphs.ts";
import type { Model } from "../src/model/index.ts";
import { toyQuadruples, variantModel } from "./iopo-helpers.ts";
import { referenceSequenceLogprob } from "./iopo-reference.ts";

const dir = mkdtempSync(join(tmpdir(), "iopo-model-"));
let wasm: Engine;
beforeAll(async () => {
  wasm = await createWasmEngine();
});
afterAll(async () => {
  await wasm?.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * The HF-layout weights ([out, in]) with each adapter merged as PEFT does, W + (alpha/r) B A, written
 * out here (not the production mergeLora) so the reference shares no LoRA code with the graph. The
 * trainer stores lora_A as [in, r] and lora_B as [r, out] (PEFT's transposes).
 */
function mergedHfTensors(m: Model, lora: { config: LoraConfig; weights: ModelWeights }) {
  const w = toHfTensors(m.config, m.weights);
  const { rank: r, alpha, targets } = lora.config;
  for (let l = 0; l < m.config.numLayers; l++)
    for (const t of targets) {
      const n = loraNames(l, t);
      const a = lora.weights.get(n.a)!;
      const b = lora.weights.get(n.b)!;
      const name = n.a.replace(".lora_A.weight", ".weight");
      const [rows, cols] = w[name].shape;
      const data = Float32Array.from(asF32(w[name].data));
      for (let y = 0; y < rows; y++)
        for (let x = 0; x < cols; x++) {
          let ba = 0;
          for (let k = 0; k < r; k++) ba += b[k * rows + y] * a[x * r + k];
          data[y * cols + x] += (alpha / r) * ba;
        }
      w[name] = { shape: [rows, cols], data };
    }
  return w;
}

/** Graph log-probs (per row) and the float64 reference for the same rows. */
async function compareLogprobs(engine: Engine, m: Model, lora?: { config: LoraConfig; weights: ModelWeights }) {
  const quads = toyQuadruples(3, 1);
  const enc = quads.map((q) => encodeExample(m.tokenizer, q, "iopo", 40)); // 40: some rows truncated
  const batch = collate(enc, m.config, m.tokenizer.padTokenId);
  const runner = await LogprobRunner.create(engine, m.config, m.weights, lora);
  const got = await runner.run(batch.feeds);
  await runner.dispose();
  const w = lora ? mergedHfTensors(m, lora) : toHfTensors(m.config, m.weights);
  const B = enc.length;
  const want: number[] = [];
  for (let k = 0; k < 4; k++)
    for (let j = 0; j < B; j++) want.push(referenceSequenceLogprob(m.config, w, enc[j].rows[k].prompt, enc[j].rows[k].response));
  return { got: Array.from(got), want, enc };
}

describe("decoder graph = independent float64 forward (summed response log-probs)", () => {
  const cases: [string, Model][] = [
    ["tiny Llama (GQA 4:2, untied head)", variantModel("llama", {})],
    ["tiny Qwen2 (GQA 4:1, qkv bias, tied embeddings, theta 1e6)", variantModel("qwen2", {})],
    [
      "Llama with llama3 rope scaling and attention_bias",
      variantModel("llama", {
        attention_bias: true,
        rope_theta: 500000,
        rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 },
      }),
    ],
  ];
  for (const [name, m] of cases) {
    it(`${name} on wasm (fp32)`, async () => {
      const { got, want, enc } = await compareLogprobs(wasm, m);
      expect(enc.some((e) => e.rows.some((r) => r.prompt.length + r.response.length < 40))).toBe(true); // padding exercised
      expect(Math.min(...want)).toBeLessThan(-20); // informative: far from a uniform model
      got.forEach((g, i) =>
        expect(Math.abs(g - want[i]), `row ${i}: ${g} vs ${want[i]}`).toBeLessThan(2e-3 * Math.max(1, Math.abs(want[i]) / 100)),
      );
    });
  }

  it("the float64 interpreter runs the same graph to fp32-rounding level (rope tables are fp32)", async () => {
    const m = variantModel("qwen2", { num_hidden_layers: 1 });
    const { got, want } = await compareLogprobs(new ReferenceEngine("float64"), m);
    got.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThan(1e-3));
  });

  it("is sensitive to what it models (a reference with another rope theta disagrees)", async () => {
    const m = variantModel("llama", {});
    const { got } = await compareLogprobs(wasm, m);
    const other = { ...m, config: parseHfConfig({ ...m.config.raw, rope_theta: 100 }) };
    const enc = toyQuadruples(3, 1).map((q) => encodeExample(m.tokenizer, q, "iopo", 40));
    const w = toHfTensors(other.config, m.weights);
    const wrong = referenceSequenceLogprob(other.config, w, enc[0].rows[0].prompt, enc[0].rows[0].response);
    expect(Math.abs(wrong - got[0])).toBeGreaterThan(0.05);
  });

  it("LoRA: adapters on equal the merged weights; the rope frequencies follow llama3 scaling", async () => {
    const m = variantModel("llama", {});
    const lora: LoraConfig = { rank: 2, alpha: 4, targets: ["q_proj", "v_proj", "down_proj"] };
    const weights: ModelWeights = new Map();
    let s = 1;
    const rnd = () => ((s = (s * 16807) % 2147483647) / 2147483647 - 0.5) * 0.5;
    for (let l = 0; l < m.config.numLayers; l++)
      for (const t of lora.targets) {
        const n = loraNames(l, t);
        const dims = { q_proj: [64, 64], v_proj: [64, 32], down_proj: [128, 64] }[t as "q_proj"]!;
        weights.set(n.a, Float32Array.from({ length: dims[0] * 2 }, rnd));
        weights.set(n.b, Float32Array.from({ length: 2 * dims[1] }, rnd));
      }
    const { got, want } = await compareLogprobs(wasm, m, { config: lora, weights });
    const base = await compareLogprobs(wasm, m);
    got.forEach((g, i) => expect(Math.abs(g - want[i])).toBeLessThan(2e-3));
    expect(Math.max(...got.map((g, i) => Math.abs(g - base.got[i])))).toBeGreaterThan(0.05);
    // the exported merged model (mergeLora) holds the same weights
    const merged = toHfTensors(m.config, mergeLora(m.config, m.weights, lora, weights));
    for (const [name, t] of Object.entries(mergedHfTensors(m, { config: lora, weights }))) {
      const mergedData = asF32(merged[name].data);
      const diff = asF32(t.data).reduce((worst, v, i) => Math.max(worst, Math.abs(mergedData[i] - v)), 0);
      expect(diff, name).toBeLessThan(1e-6);
    }

    const scaled = variantModel("llama", {
      rope_scaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 },
    }).config;
    const plain = ropeInvFreq(variantModel("llama", {}).config);
    const inv = ropeInvFreq(scaled);
    expect(inv[0]).toBeCloseTo(plain[0], 12); // high frequency: kept
    expect(inv[inv.length - 1]).toBeCloseTo(plain[plain.length - 1] / 8, 12); // low frequency: divided by factor
  });
});

describe("safetensors", () => {
  it("reads a file built byte by byte (bf16, fp16, f32; unaligned offsets)", async () => {
    const header = JSON.stringify({
      __metadata__: { format: "pt" },
      a: { dtype: "BF16", shape: [2], data_offsets: [0, 4] },
      b: { dtype: "F16", shape: [1], data_offsets: [4, 6] },
      c: { dtype: "F32", shape: [1, 2], data_offsets: [6, 14] },
    });
    const h = Buffer.from(header);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    const data = Buffer.alloc(14);
    data.writeUInt16LE(0x3f80, 0); // bf16 1.0
    data.writeUInt16LE(0xc040, 2); // bf16 -3.0
    data.writeUInt16LE(0x3555, 4); // fp16 0.333251953125
    data.writeFloatLE(1.5, 6);
    data.writeFloatLE(-0.25, 10);
    const path = join(dir, "hand.safetensors");
    writeFileSync(path, Buffer.concat([len, h, data]));
    const f = await SafetensorsFile.open(path);
    expect(f.header.metadata).toEqual({ format: "pt" });
    expect(Array.from((await f.readF32("a")).data)).toEqual([1, -3]);
    expect((await f.readF32("b")).data[0]).toBe(0.333251953125);
    expect(await f.readF32("c")).toEqual({ shape: [1, 2], data: Float32Array.of(1.5, -0.25) });
  });

  it("round-trips fp32 exactly and fp16/bf16 to their rounding, one file or sharded", async () => {
    const vals = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i * 1.7) * 10 ** ((i % 7) - 3));
    const t = { x: { shape: [10, 100], data: vals }, y: { shape: [3], data: Float32Array.of(1, -2, 0.5) } };
    for (const dtype of ["F32", "F16", "BF16"] as const) {
      const p = join(dir, `rt-${dtype}.safetensors`);
      await writeSafetensors(p, t, { dtype });
      const bytes = readFileSync(p);
      expect((8 + Number(bytes.readBigUInt64LE(0))) % 8).toBe(0); // data section 8-byte aligned
      const f = await SafetensorsFile.open(p);
      const x = await f.readF32("x");
      expect(x.shape).toEqual([10, 100]);
      expect(Array.from((await f.readF32("y")).data)).toEqual([1, -2, 0.5]); // exactly representable in all three
      const rel = dtype === "F32" ? 0 : dtype === "F16" ? 2 ** -11 : 2 ** -8;
      vals.forEach((v, i) => {
        if (dtype === "F16" && Math.abs(v) < 6.1e-5) return; // fp16 subnormals: absolute error only
        expect(Math.abs(x.data[i] - v)).toBeLessThanOrEqual(rel * Math.abs(v) + 1e-12);
      });
      expect(Array.from(decodeToF32(dtype, encodeFromF32(dtype, x.data)))).toEqual(Array.from(x.data)); // stable once rounded
    }
    const shardDir = join(dir, "sharded");
    const files = await writeCheckpointWeights(shardDir, t, { maxShardBytes: 2000 });
    expect(files).toEqual(["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]);
    const index = JSON.parse(readFileSync(join(shardDir, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata.total_size).toBe(4012);
    const opened = await openCheckpointWeights(shardDir);
    expect(await opened.get("x")!.readF32("x")).toEqual({ shape: [10, 100], data: vals });
  });

  it("a Hugging Face folder round-trips (config, weights in HF layout, tokenizer), also in bf16", async () => {
    const m = variantModel("qwen2", {});
    const out = join(dir, "hf-qwen2");
    await saveHfModel(out, m.config, m.weights, { tokenizer: m.tokenizer });
    const cfg = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    expect(cfg.architectures).toEqual(["Qwen2ForCausalLM"]);
    const st = await SafetensorsFile.open(join(out, "model.safetensors"));
    expect(st.header.tensors["model.layers.0.self_attn.k_proj.weight"].shape).toEqual([16, 64]); // HF [out, in]
    expect(st.names).not.toContain("lm_head.weight"); // tied
    const back = await loadModel(out);
    expect(back.config.numKvHeads).toBe(1);
    for (const [k, v] of m.weights) expect(back.weights.get(k), k).toEqual(v);
    expect(back.tokenizer.encode("Owls are quiet.")).toEqual(m.tokenizer.encode("Owls are quiet."));

    const bf = join(dir, "hf-bf16");
    await saveHfModel(bf, m.config, m.weights, { tokenizer: m.tokenizer, dtype: "BF16" });
    const b16 = await loadModel(bf);
    const w = m.weights.get("model.layers.1.mlp.up_proj.weight")!;
    // held 16-bit (bf16 converted to fp16: exact above fp16's smallest normal, 2^-14)
    const r = asF32(b16.weights.get("model.layers.1.mlp.up_proj.weight")!);
    w.forEach((v, i) => expect(Math.abs(r[i] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -8 + 2 ** -25));
  });
});

describe("tokenizer and chat template", () => {
  it("loads tokenizer.json + tokenizer_config.json from a folder; the response includes the end-of-turn token", async () => {
    // a word-level tokenizer with a Llama-3-style template (BOS written by the template, <|eot_id|>)
    const specials = ["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"];
    const words = ["user", "assistant", "system", "Say", "hi", "Hi", "!", ".", "\n\n", "Be", "brief", "[UNK]"];
    const vocab = Object.fromEntries([...specials, ...words].map((w, i) => [w, i]));
    const tokJson = {
      version: "1.0",
      added_tokens: specials.map((content, id) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: null,
      pre_tokenizer: { type: "Split", pattern: { Regex: "\\n\\n|[A-Za-z]+|[^\\sA-Za-z]" }, behavior: "Isolated", invert: false },
      post_processor: null,
      decoder: null,
      model: { type: "WordLevel", vocab, unk_token: "[UNK]" },
    };
    const template =
      "{{ bos_token }}{% for m in messages %}{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\\n\\n' + m['content'] + '<|eot_id|>' }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";
    const folder = join(dir, "tok-llama3");
    rmSync(folder, { recursive: true, force: true });
    (await import("node:fs")).mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, "tokenizer.json"), JSON.stringify(tokJson));
    writeFileSync(
      join(folder, "tokenizer_config.json"),
      JSON.stringify({ bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>", chat_template: template }),
    );
    const tok = await ChatTokenizer.fromDir(folder);
    expect(tok.eosTokenId).toBe(3);
    const { prompt, response } = tok.encodePair(
      [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Say hi!" },
      ],
      "Hi!",
    );
    expect(prompt[0]).toBe(0); // BOS once (the template's; nothing added by the tokenizer)
    expect(prompt.filter((t) => t === 0)).toHaveLength(1);
    expect(prompt.slice(-4)).toEqual([1, vocab.assistant, 2, vocab["\n\n"]]);
    expect(response).toEqual([vocab.Hi, vocab["!"], 3]); // the end-of-turn token is scored
  });
});

describe("config.json validation", () => {
  const base = {
    architectures: ["LlamaForCausalLM"],
    vocab_size: 10,
    hidden_size: 8,
    intermediate_size: 16,
    num_hidden_layers: 1,
    num_attention_heads: 2,
  };
  it.each([
    [{ ...base, architectures: ["GPTNeoXForCausalLM"], model_type: "gpt_neox" }, /unsupported architecture GPTNeoXForCausalLM/],
    [{ ...base, rope_scaling: { rope_type: "yarn", factor: 4 } }, /unsupported rope_scaling type "yarn"/],
    [{ ...base, hidden_act: "gelu" }, /unsupported hidden_act "gelu"/],
    [{ ...base, architectures: ["Qwen2ForCausalLM"], use_sliding_window: true }, /sliding-window/],
    [{ ...base, num_key_value_heads: 3, num_attention_heads: 2 }, /not a multiple/],
    [{ ...base, hidden_size: undefined }, /missing "hidden_size"/],
  ])("rejects %#", (raw, msg) => {
    expect(() => parseHfConfig(raw as Record<string, unknown>)).toThrow(UnsupportedModelError);
    expect(() => parseHfConfig(raw as Record<string, unknown>)).toThrow(msg);
  });
});
