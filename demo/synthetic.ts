import {
  ADJECTIVES,
  COMMA_TEMPLATES,
  type Constraint,
  type DatasetRecord,
  END_PHRASES,
  FORBIDDEN_WORDS,
  HELD_OUT_TOPICS,
  type Instruction,
  KEYWORDS,
  PHRASES,
  TEMPLATES,
  TRAIN_TOPICS,
} from "@iopo/common";
import { seededRandom } from "../src/datasets/quadruples.ts";
import { describeConstraint, getChecker, judgeConstraints } from "../src/judge/index.ts";

export { HELD_OUT_TOPICS, TRAIN_TOPICS };

/**
 * A synthetic complex-instruction corpus with only verifiable constraints, for training and
 * evaluating small models: simple content tasks ("write about owls") combined with 1-5
 * constraints from a subset of the checker registry that a tiny model can learn. Every response is
 * composed by a program to satisfy its constraints, then confirmed by the judge; a combination the
 * program cannot satisfy (the judge says no) is redrawn. Everything is a function of the seed.
 *
 * The vocabulary is deliberately small (a fixed list of topics and sentence templates, in
 * @iopo/common's synthetic-text.ts) so the trainer's tiny tokenizer, built from the same text,
 * covers it. Held-out splits use topics and constraint combinations that the training split never
 * shows. The demo and the tests use it; the Worker does not.
 */

type Spec = { id: string; kwargs: Record<string, unknown> };

const contradicting = (id: string): string[] => [...(getChecker(id).perturb.contradictedBy ?? [])];

/**
 * The constraint families the corpus draws from, each with a kwargs sampler fitted to the
 * composer's templates and vocabulary below (so they live here, not with the checkers), and the
 * families it is never drawn with: the checkers it contradicts (declared by the checker, see
 * `perturb.contradictedBy`) and any the composer cannot combine with it.
 */
const FAMILIES: { id: string; sample(r: () => number): Record<string, unknown>; conflicts?: string[] }[] = [
  {
    id: "length_constraints:number_words",
    sample: (r) =>
      r() < 0.5 ? { relation: "less than", num_words: pick(r, [25, 35, 45]) } : { relation: "at least", num_words: pick(r, [12, 18]) },
  },
  { id: "keywords:existence", sample: (r) => ({ keywords: [pick(r, KEYWORDS)] }) },
  { id: "keywords:forbidden_words", sample: (r) => ({ forbidden_words: [pick(r, FORBIDDEN_WORDS)] }) },
  {
    id: "change_case:english_lowercase",
    sample: () => ({}),
    conflicts: [...contradicting("change_case:english_lowercase"), "detectable_format:title"],
  },
  { id: "change_case:english_capital", sample: () => ({}), conflicts: contradicting("change_case:english_capital") },
  { id: "detectable_format:number_bullet_lists", sample: (r) => ({ num_bullets: pick(r, [2, 3]) }) },
  { id: "startend:end_checker", sample: (r) => ({ end_phrase: pick(r, END_PHRASES) }) },
  { id: "punctuation:no_comma", sample: () => ({}) },
  { id: "detectable_format:title", sample: () => ({}) },
  { id: "detectable_content:number_placeholders", sample: () => ({ num_placeholders: 1 }) },
  { id: "detectable_content:postscript", sample: () => ({ postscript_marker: "P.S." }) },
  { id: "detectable_format:number_highlighted_sections", sample: () => ({ num_highlights: 1 }) },
];
export const SYNTHETIC_CHECKER_IDS = FAMILIES.map((f) => f.id);

function pick<T>(r: () => number, items: readonly T[]): T {
  return items[Math.floor(r() * items.length)]!;
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
const countWords = (s: string) => (s.match(/[\p{L}\p{N}_]+/gu) ?? []).length;

function sentencesFor(topic: string, r: () => number, allowCommas: boolean): string[] {
  const templates = allowCommas ? [...TEMPLATES, ...COMMA_TEMPLATES] : TEMPLATES;
  return templates.map((t) => {
    const a = pick(r, ADJECTIVES);
    const b = pick(
      r,
      ADJECTIVES.filter((x) => x !== a),
    );
    return t.replaceAll("{T}", capitalize(topic)).replaceAll("{t}", topic).replaceAll("{a}", a).replaceAll("{b}", b);
  });
}

/** Draws `n` compatible constraint specs. */
function drawConstraints(r: () => number, n: number): Spec[] {
  const chosen: Spec[] = [];
  const order = [...FAMILIES].sort(() => r() - 0.5);
  for (const family of order) {
    if (chosen.length >= n) break;
    if (chosen.some((c) => family.conflicts?.includes(c.id) || FAMILIES.find((f) => f.id === c.id)?.conflicts?.includes(family.id)))
      continue;
    chosen.push({ id: family.id, kwargs: family.sample(r) });
  }
  return chosen;
}

/** A response that aims to satisfy `specs` for `topic`; the judge has the last word. */
export function composeResponse(topic: string, specs: Spec[], r: () => number): string {
  const has = (id: string) => specs.find((s) => s.id === id);
  const forbidden = ((has("keywords:forbidden_words")?.kwargs.forbidden_words as string[]) ?? []).map((w) => w.toLowerCase());
  let pool = sentencesFor(topic, r, !has("punctuation:no_comma")).filter((s) => !forbidden.some((w) => s.toLowerCase().includes(w)));
  pool = pool.sort(() => r() - 0.5);
  const words = has("length_constraints:number_words");
  const wantSentences = has("detectable_format:number_bullet_lists")
    ? (has("detectable_format:number_bullet_lists")!.kwargs.num_bullets as number)
    : 2 + Math.floor(r() * 2);
  let body = pool.slice(0, wantSentences);
  const keyword = (has("keywords:existence")?.kwargs.keywords as string[] | undefined)?.[0];
  if (keyword) body[0] = PHRASES.withKeyword(body[0]!, keyword);
  if (has("detectable_format:number_highlighted_sections")) body[body.length - 1] = `*${body[body.length - 1]!.replace(/\.$/, "")}*.`;
  if (has("detectable_content:number_placeholders")) body.push(PHRASES.placeholder);

  const extras: string[] = [];
  if (has("detectable_content:postscript")) extras.push(PHRASES.postscript(topic));
  const end = has("startend:end_checker")?.kwargs.end_phrase as string | undefined;

  const render = (lines: string[]) => {
    const main = has("detectable_format:number_bullet_lists")
      ? lines
          .slice(0, wantSentences)
          .map((s) => `* ${s}`)
          .concat(lines.slice(wantSentences))
          .join("\n")
      : lines.join(" ");
    const parts = [has("detectable_format:title") ? PHRASES.title(topic) : "", main, ...extras, end ?? ""].filter(Boolean);
    return parts.join("\n");
  };
  let text = render(body);
  // meet word bounds by adding or removing sentences (only outside bullet lists)
  if (words && !has("detectable_format:number_bullet_lists")) {
    const target = words.kwargs.num_words as number;
    const spare = pool.slice(wantSentences);
    if (words.kwargs.relation === "at least") {
      while (countWords(text) < target && spare.length) text = render((body = [...body, spare.shift()!]));
    } else {
      while (countWords(text) >= target && body.length > 1) text = render((body = body.slice(0, -1)));
    }
  }
  if (has("change_case:english_lowercase")) text = text.toLowerCase();
  if (has("change_case:english_capital")) text = text.toUpperCase();
  return text;
}

export interface SyntheticItem {
  topic: string;
  instruction: Instruction;
  response: string;
}

function instructionOf(topic: string, specs: Spec[]): Instruction {
  const constraints: Constraint[] = specs.map((s) => ({
    text: describeConstraint(s.id, s.kwargs),
    checker: { id: s.id, kwargs: s.kwargs },
  }));
  return { description: PHRASES.task(topic), constraints };
}

const comboKey = (specs: Spec[]) =>
  specs
    .map((s) => s.id)
    .sort()
    .join("+");

export interface CorpusOptions {
  seed: number;
  topics: readonly string[];
  /** Records per topic. */
  perTopic: number;
  minConstraints: number;
  maxConstraints: number;
  /** Constraint-id combinations (sorted ids joined by "+") to avoid, e.g. those held out. */
  excludeCombos?: ReadonlySet<string>;
}

/** Judge-confirmed (instruction, response) pairs. */
export function generateItems(options: CorpusOptions): SyntheticItem[] {
  const r = seededRandom(options.seed, "synthetic-corpus");
  const items: SyntheticItem[] = [];
  for (const topic of options.topics) {
    let made = 0;
    for (let attempt = 0; made < options.perTopic && attempt < options.perTopic * 30; attempt++) {
      const n = options.minConstraints + Math.floor(r() * (options.maxConstraints - options.minConstraints + 1));
      const specs = drawConstraints(r, n);
      if (specs.length !== n || options.excludeCombos?.has(comboKey(specs))) continue;
      const response = composeResponse(topic, specs, r);
      if (!judgeConstraints(response, specs, "strict").followed_all) continue;
      items.push({ topic, instruction: instructionOf(topic, specs), response });
      made++;
    }
  }
  return items;
}

export interface DemoCorpus {
  train: Extract<DatasetRecord, { kind: "sft" }>[];
  /** Held-out evaluation instructions: unseen topics, and unseen combinations on seen topics. */
  evalSingle: Extract<DatasetRecord, { kind: "instruction" }>[];
  evalMulti: Extract<DatasetRecord, { kind: "instruction" }>[];
}

/**
 * The demo's corpus: a training split of sft records and held-out IF-S (one constraint) and IF-M
 * (2-5 constraints) evaluation instructions. Multi-constraint combinations in the evaluation split
 * never occur in training; its topics are mostly unseen.
 */
export function generateDemoCorpus(seed: number, perTopic = 40, evalPerTopic = 6): DemoCorpus {
  const evalMultiItems = generateItems({
    seed: seed + 1,
    topics: [...HELD_OUT_TOPICS, ...TRAIN_TOPICS.slice(0, 2)],
    perTopic: evalPerTopic,
    minConstraints: 2,
    maxConstraints: 5,
  });
  const heldOutCombos = new Set(evalMultiItems.map((i) => comboKey(i.instruction.constraints.map((c) => c.checker!))));
  const train = generateItems({ seed, topics: TRAIN_TOPICS, perTopic, minConstraints: 1, maxConstraints: 5, excludeCombos: heldOutCombos });
  const evalSingleItems = generateItems({
    seed: seed + 2,
    topics: HELD_OUT_TOPICS,
    perTopic: evalPerTopic,
    minConstraints: 1,
    maxConstraints: 1,
  });
  const meta = (split: string, topic: string) => ({ source: "synthetic", split, topic, seed });
  return {
    train: train.map((i) => ({ kind: "sft" as const, instruction: i.instruction, response: i.response, meta: meta("train", i.topic) })),
    evalSingle: evalSingleItems.map((i) => ({
      kind: "instruction" as const,
      instruction: i.instruction,
      meta: meta("eval-single", i.topic),
    })),
    evalMulti: evalMultiItems.map((i) => ({ kind: "instruction" as const, instruction: i.instruction, meta: meta("eval-multi", i.topic) })),
  };
}
