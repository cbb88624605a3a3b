import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CHECKERS, INSTRUCTION_IDS, TRACE_DIMENSIONS, judgeConstraints, parseKwargs, type InstructionId } from "../../src/judge/index.ts";
import { REFERENCE_DATA, loadGpt4Benchmark } from "./helpers/ifeval-data.ts";

/**
 * What each checker declares about itself besides its check (src/judge/core/checker.ts): a TRACE
 * dimension of the taxonomy, and perturbations that the quadruple builder applies. A new checker
 * is covered here without being named.
 */

type Kwargs = Record<string, unknown>;
const taxonomy = JSON.parse(readFileSync(`${REFERENCE_DATA}trace/taxonomy.json`, "utf8")) as {
  types: { dimensions: { name: string }[] }[];
};

const accepts = (id: string, kwargs: Kwargs) => {
  try {
    parseKwargs(id, kwargs);
    return true;
  } catch {
    return false;
  }
};

/** Up to 20 (kwargs, response) pairs from the GPT-4 benchmark where the response follows the constraint. */
function followedSamples(): Map<string, { kwargs: Kwargs; response: string }[]> {
  const { records, responses } = loadGpt4Benchmark();
  const samples = new Map<string, { kwargs: Kwargs; response: string }[]>();
  for (const record of records) {
    const response = responses.get(record.prompt)!;
    record.instruction_id_list.forEach((id, i) => {
      const kwargs = Object.fromEntries(Object.entries(record.kwargs[i] ?? {}).filter(([, v]) => v !== null));
      const list = samples.get(id) ?? [];
      if (list.length >= 20 || !judgeConstraints(response, [{ id, kwargs }], "strict").followed_all) return;
      samples.set(id, [...list, { kwargs, response }]);
    });
  }
  return samples;
}

// The builder's REVISE of an end phrase offers a fixed list that may hold the response's own phrase
// (the judge then rejects it); the list is kept whole because seeded builds depend on its length.
const MAY_KEEP_ONE = new Set<InstructionId>(["startend:end_checker"]);

describe("checker declarations", () => {
  it("TRACE_DIMENSIONS are the taxonomy's 26", () => {
    expect([...TRACE_DIMENSIONS].sort()).toEqual(taxonomy.types.flatMap((t) => t.dimensions.map((d) => d.name)).sort());
    expect(TRACE_DIMENSIONS).toHaveLength(26);
  });

  it("every registered checker declares a TRACE dimension of the taxonomy", () => {
    expect(INSTRUCTION_IDS).toHaveLength(83);
    for (const id of INSTRUCTION_IDS) expect(TRACE_DIMENSIONS, id).toContain(CHECKERS[id].trace);
  });

  it("each declared perturbation turns the checker's own kwargs into different kwargs its schema accepts", () => {
    const samples = followedSamples();
    const responses = [...samples.values()]
      .flat()
      .map((s) => s.response)
      .slice(0, 20);
    let revised = 0;
    for (const id of INSTRUCTION_IDS) {
      const { perturb, check } = CHECKERS[id];
      if (perturb.revise) {
        const own = samples.get(id) ?? [];
        expect(own.length, `${id}: samples of its kwargs`).toBeGreaterThan(0);
        for (const { kwargs, response } of own) {
          const out = perturb.revise(kwargs, check(response, parseKwargs(id, kwargs)).evidence, response);
          for (const k of out) expect(accepts(id, k), `${id}: ${JSON.stringify(k)}`).toBe(true);
          const unchanged = out.filter((k) => JSON.stringify(k) === JSON.stringify(kwargs)).length;
          expect(unchanged, `${id}: ${JSON.stringify(kwargs)}`).toBeLessThanOrEqual(MAY_KEEP_ONE.has(id) ? 1 : 0);
          revised += out.length - unchanged;
        }
      }
      for (const other of perturb.contradictedBy ?? []) {
        expect(other, id).not.toBe(id);
        expect(accepts(other, {}), `${id} contradicted by ${other}`).toBe(true);
        expect(CHECKERS[other].perturb.contradictedBy, `${other} contradicts ${id} back`).toContain(id);
      }
      if (perturb.add) {
        for (const response of responses) {
          for (const k of perturb.add.kwargs(response, (kwargs) => check(response, parseKwargs(id, kwargs)).evidence)) {
            expect(accepts(id, k), `${id} add: ${JSON.stringify(k)}`).toBe(true);
          }
        }
      }
    }
    expect(revised).toBeGreaterThan(0);
  });

  it("ADD ranks are distinct, so the builder's order does not depend on the registry's", () => {
    const ranks = INSTRUCTION_IDS.flatMap((id) => (CHECKERS[id].perturb.add ? [CHECKERS[id].perturb.add!.rank] : []));
    expect(new Set(ranks).size).toBe(ranks.length);
  });
});
