// One record, laid out as the paper reads it: the task, its constraints with their TRACE
// dimensions, the input, the response(s); a quadruple's x1/x2 and y1/y2 side by side with the
// constraints that differ marked, and the stored verdicts.
import { api, datasetPath } from "./api.js";
import { h, render } from "./dom.js";

export async function recordPage(name, idx) {
  const page = await api(`${datasetPath(name)}/rows?offset=${idx}&length=1`);
  const row = page.rows[0];
  if (!row || row.row_idx !== idx) throw new Error(`Dataset ${name} has no record ${idx}.`);
  const r = row.row;
  const back = h("a", { href: `/app/datasets/${encodeURIComponent(name)}` }, `← ${name}`);
  const title = h("h1", {}, `Record ${idx}`, h("span", { className: "muted" }, ` · ${r.kind} · `, h("code", {}, row.id.slice(0, 12))));
  const sections = [];
  if (r.kind === "instruction" || r.kind === "sft") {
    sections.push(instructionView("Instruction", r.instruction));
    if (r.kind === "sft") sections.push(textBlock("Response", r.response));
    if (r.verdict) sections.push(verdictView("Verdict", r.verdict));
  } else if (r.kind === "dpo") {
    sections.push(instructionView("Prompt", r.prompt));
    sections.push(h("div", { className: "pair" }, textBlock("Chosen", r.chosen), textBlock("Rejected", r.rejected)));
    for (const [k, v] of Object.entries(r.verdicts ?? {})) sections.push(verdictView(`Verdict: ${k}`, v));
  } else if (r.kind === "iopo") {
    const texts1 = new Set(r.x1.constraints.map((c) => c.text));
    const texts2 = new Set(r.x2.constraints.map((c) => c.text));
    sections.push(
      h(
        "div",
        { className: "pair" },
        instructionView("x1", r.x1, (c) => !texts2.has(c.text)),
        instructionView("x2", r.x2, (c) => !texts1.has(c.text)),
      ),
      h("div", { className: "pair" }, textBlock("y1 (follows x1)", r.y1), textBlock("y2 (follows x2)", r.y2)),
    );
    for (const [k, v] of Object.entries(r.verdicts ?? {})) sections.push(verdictView(`Verdict ${k.replace("_", " | ")}`, v));
  }
  if (r.meta) sections.push(h("details", {}, h("summary", {}, "meta"), h("pre", {}, JSON.stringify(r.meta, null, 2))));
  render(back, title, sections);
}

/** `changed(c)`: whether constraint c is one the other side lacks (a quadruple's edit). */
function instructionView(label, instruction, changed = () => false) {
  const input = instruction.input && instruction.input !== "NULL" ? instruction.input : null;
  return h(
    "section",
    { className: "block" },
    h("h2", {}, label),
    h("p", { className: "task" }, instruction.description),
    instruction.constraints.length
      ? h(
          "ul",
          { className: "constraints" },
          instruction.constraints.map((c) =>
            h(
              "li",
              { className: changed(c) ? "changed" : null },
              changed(c) ? h("span", { className: "tag" }, "changed") : null,
              c.text,
              c.dimension ? h("span", { className: "dim" }, c.dimension) : null,
              c.checker ? h("code", { className: "checker" }, c.checker.id) : null,
            ),
          ),
        )
      : null,
    input ? h("div", {}, h("h3", {}, "Input"), h("pre", {}, input)) : null,
    instruction.prompt !== undefined && instruction.prompt !== instruction.description
      ? h("details", {}, h("summary", {}, "Verbatim prompt"), h("pre", {}, instruction.prompt))
      : null,
  );
}

const textBlock = (label, text) => h("section", { className: "block" }, h("h2", {}, label), h("pre", { className: "response" }, text));

function verdictView(label, verdict) {
  return h(
    "section",
    { className: "block" },
    h(
      "h2",
      {},
      label,
      " ",
      h("span", { className: verdict.followed_all ? "pass" : "fail" }, verdict.followed_all ? "followed" : "not followed"),
    ),
    h(
      "ul",
      { className: "verdicts" },
      verdict.results.map((res) =>
        h(
          "li",
          {},
          h("span", { className: res.passed ? "pass" : "fail" }, res.passed ? "pass" : "fail"),
          " ",
          h("code", {}, res.id ?? res.text ?? ""),
          res.evidence ? h("details", {}, h("summary", {}, "evidence"), h("pre", {}, JSON.stringify(res.evidence, null, 2))) : null,
        ),
      ),
    ),
  );
}
