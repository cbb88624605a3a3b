// The judge playground: a response (and optionally its instruction), constraints from the 83
// checkers (forms made from each kwargs JSON Schema, validated as you type) or as free text for
// the LLM judge, strict/loose/both; verdicts with their evidence, and the spans the checkers
// matched highlighted in the response (evidence.spans: the page never matches text itself).
// The whole state is in the URL's fragment, so a result can be shared by its link.
import { api } from "./api.js";
import { errorBox, h, render } from "./dom.js";

/** State ⇄ URL fragment: base64url of the JSON, so any text survives the round trip. */
function encodeState(state) {
  const bytes = new TextEncoder().encode(JSON.stringify(state));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}
function decodeState(text) {
  try {
    const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
    return JSON.parse(new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0))));
  } catch {
    return null;
  }
}

const EMPTY = { instruction: "", response: "", mode: "strict", constraints: [] };

export async function judgePage() {
  const fromUrl = decodeState(new URLSearchParams(location.hash.slice(1)).get("s") ?? "");
  const state = { ...EMPTY, ...fromUrl };
  const [{ checkers }, taxonomy] = await Promise.all([api("/v1/checkers"), api("/v1/taxonomy")]);
  const byId = new Map(checkers.map((c) => [c.id, c]));
  const dimensions = taxonomy.types.flatMap((t) => t.dimensions.map((d) => d.name));

  const instruction = h("textarea", { id: "instruction", rows: 3 });
  instruction.value = state.instruction;
  const response = h("textarea", { id: "response", rows: 6, required: true });
  response.value = state.response;
  const mode = h(
    "select",
    { id: "mode" },
    ["strict", "loose", "both"].map((m) => h("option", { value: m, selected: state.mode === m }, m)),
  );
  const list = h("ol", { className: "constraint-forms", "aria-label": "Constraints" });
  const editors = [];
  const results = h("section", { id: "results", "aria-live": "polite" });

  const addEditor = (constraint) => {
    const editor =
      constraint.text !== undefined
        ? freeTextEditor(constraint, dimensions)
        : checkerEditor(byId.get(constraint.id), constraint.kwargs ?? {});
    const item = h("li", {}, editor.element);
    editor.element.append(
      h(
        "button",
        {
          type: "button",
          className: "remove",
          onclick: () => {
            editors.splice(editors.indexOf(editor), 1);
            item.remove();
          },
        },
        "Remove",
      ),
    );
    editors.push(editor);
    list.append(item);
  };
  for (const c of state.constraints) if (c.text !== undefined || byId.has(c.id)) addEditor(c);

  const picker = h(
    "select",
    { id: "checker-picker" },
    h("option", { value: "" }, "choose a checker…"),
    ["ifeval", "ifbench"].map((family) =>
      h(
        "optgroup",
        { label: family === "ifeval" ? "IFEval" : "IFBench" },
        checkers.filter((c) => c.family === family).map((c) => h("option", { value: c.id }, c.id)),
      ),
    ),
  );

  const current = () => ({
    instruction: instruction.value,
    response: response.value,
    mode: mode.value,
    constraints: editors.map((e) => e.value()),
  });

  const run = async () => {
    const s = current();
    history.replaceState(null, "", `/app/judge#s=${encodeState(s)}`);
    const invalid = editors.find((e) => !e.valid());
    if (invalid) {
      results.replaceChildren(errorBox(new Error("Fix the highlighted constraint fields first.")));
      invalid.focus();
      return;
    }
    results.replaceChildren(h("p", {}, "Judging…"));
    try {
      const body = { response: s.response, constraints: s.constraints, mode: s.mode };
      if (s.instruction.trim()) body.instruction = s.instruction;
      const verdict = await api("/v1/judge", { method: "POST", body });
      results.replaceChildren(...verdictView(verdict, s.response));
    } catch (error) {
      results.replaceChildren(errorBox(error));
    }
  };

  render(
    h("h1", {}, "Judge playground"),
    h(
      "div",
      { className: "playground" },
      h(
        "form",
        {
          className: "judge",
          onsubmit: (e) => {
            e.preventDefault();
            run();
          },
        },
        h("div", { className: "field" }, h("label", { for: "instruction" }, "Instruction (optional)"), instruction),
        h("div", { className: "field" }, h("label", { for: "response" }, "Response"), response),
        h("h2", {}, "Constraints"),
        list,
        h(
          "div",
          { className: "add" },
          h("label", { for: "checker-picker" }, "Add a checker"),
          picker,
          h(
            "button",
            {
              type: "button",
              id: "add-checker",
              onclick: () => {
                if (picker.value) addEditor({ id: picker.value, kwargs: {} });
              },
            },
            "Add",
          ),
          h("button", { type: "button", id: "add-text", onclick: () => addEditor({ text: "" }) }, "Add free text (LLM)"),
        ),
        h("div", { className: "field inline" }, h("label", { for: "mode" }, "Mode"), mode),
        h("button", { type: "submit", id: "judge-button", className: "primary" }, "Judge"),
      ),
      results,
    ),
  );
  if (fromUrl?.response && fromUrl.constraints?.length) await run();
}

/** A form for one checker's kwargs, made from its JSON Schema; `valid()` checks as the server would. */
function checkerEditor(checker, kwargs) {
  const schema = checker.kwargs_schema;
  const fields = Object.entries(schema.properties ?? {}).map(([name, prop]) =>
    schemaField(
      `${checker.id}-${name}-${Math.random().toString(36).slice(2, 7)}`,
      name,
      prop,
      (schema.required ?? []).includes(name),
      kwargs[name],
    ),
  );
  const element = h(
    "fieldset",
    { className: "checker", "data-checker": checker.id },
    h("legend", {}, h("code", {}, checker.id)),
    fields.length ? fields.map((f) => f.element) : h("p", { className: "muted" }, "No arguments."),
  );
  return {
    element,
    value: () => ({ id: checker.id, kwargs: Object.fromEntries(fields.filter((f) => f.present()).map((f) => [f.name, f.value()])) }),
    valid: () => fields.every((f) => f.check()),
    focus: () => fields.find((f) => !f.check())?.focus(),
  };
}

function freeTextEditor(constraint, dimensions) {
  const id = `free-${Math.random().toString(36).slice(2, 7)}`;
  const text = h("input", { id, type: "text", value: constraint.text ?? "", required: true, maxlength: 20000 });
  const dimension = h(
    "select",
    { id: `${id}-dim` },
    h("option", { value: "" }, "no dimension"),
    dimensions.map((d) => h("option", { value: d, selected: constraint.dimension === d }, d)),
  );
  return {
    element: h(
      "fieldset",
      { className: "checker" },
      h("legend", {}, "Free text (LLM judge)"),
      h("div", { className: "field" }, h("label", { for: id }, "Constraint"), text),
      h("div", { className: "field" }, h("label", { for: `${id}-dim` }, "TRACE dimension"), dimension),
    ),
    value: () => (dimension.value ? { text: text.value, dimension: dimension.value } : { text: text.value }),
    valid: () => text.value.trim() !== "",
    focus: () => text.focus(),
  };
}

/** One kwargs field: the control its JSON Schema calls for, and a message while it is invalid. */
function schemaField(id, name, prop, required, initial) {
  const message = h("span", { className: "field-error", id: `${id}-error`, "aria-live": "polite" });
  let control;
  let read;
  const kind = prop.enum ? "enum" : prop.type === "array" && prop.items?.type === "string" ? "strings" : prop.type;
  if (kind === "enum") {
    control = h(
      "select",
      { id },
      required ? null : h("option", { value: "" }, "(default)"),
      prop.enum.map((v) => h("option", { value: v, selected: initial === v }, v)),
    );
    read = () => (control.value === "" ? undefined : control.value);
  } else if (kind === "integer" || kind === "number") {
    control = h("input", { id, type: "number", step: kind === "integer" ? 1 : "any", value: initial ?? "" });
    read = () => (control.value === "" ? undefined : Number(control.value));
  } else if (kind === "boolean") {
    control = h("input", { id, type: "checkbox", checked: initial === true });
    read = () => control.checked;
  } else if (kind === "strings") {
    control = h("textarea", { id, rows: 2, placeholder: "one per line" });
    control.value = Array.isArray(initial) ? initial.join("\n") : "";
    read = () => (control.value.trim() === "" ? undefined : control.value.split("\n").filter((line) => line.trim() !== ""));
  } else if (kind === "string") {
    control = (prop.maxLength ?? 0) > 1000 ? h("textarea", { id, rows: 3 }) : h("input", { id, type: "text" });
    control.value = initial ?? "";
    read = () => (control.value === "" ? undefined : control.value);
  } else {
    control = h("textarea", { id, rows: 2, placeholder: "JSON" });
    control.value = initial === undefined ? "" : JSON.stringify(initial);
    read = () => (control.value.trim() === "" ? undefined : JSON.parse(control.value));
  }
  control.setAttribute("aria-describedby", `${id}-error`);
  const check = () => {
    let problem = "";
    let value;
    try {
      value = read();
    } catch {
      problem = "not valid JSON";
    }
    if (!problem) problem = violation(prop, value, required);
    control.setCustomValidity(problem);
    control.setAttribute("aria-invalid", problem ? "true" : "false");
    message.textContent = problem;
    return !problem;
  };
  control.addEventListener("input", check);
  control.addEventListener("change", check);
  return {
    name,
    element: h(
      "div",
      { className: "field" },
      h("label", { for: id }, name, required ? " *" : ""),
      control,
      prop.description ? h("small", {}, prop.description) : null,
      message,
    ),
    present: () => read() !== undefined,
    value: read,
    check,
    focus: () => control.focus(),
  };
}

/** Why `value` breaks the JSON Schema keywords the checkers' kwargs use, or "" when it does not. */
function violation(prop, value, required) {
  if (value === undefined) return required ? "required" : "";
  if (prop.enum && !prop.enum.includes(value)) return `one of ${prop.enum.join(", ")}`;
  if (prop.type === "integer" && !Number.isInteger(value)) return "a whole number";
  if ((prop.type === "integer" || prop.type === "number") && typeof value === "number") {
    if (Number.isNaN(value)) return "a number";
    if (prop.minimum !== undefined && value < prop.minimum) return `at least ${prop.minimum}`;
    if (prop.maximum !== undefined && value > prop.maximum) return `at most ${prop.maximum}`;
  }
  if (typeof value === "string") {
    if (prop.maxLength !== undefined && value.length > prop.maxLength) return `at most ${prop.maxLength} characters`;
    if (prop.minLength !== undefined && value.length < prop.minLength) return `at least ${prop.minLength} characters`;
    if (value.trim() === "") return "not blank";
  }
  if (Array.isArray(value)) {
    if (prop.minItems !== undefined && value.length < prop.minItems) return `at least ${prop.minItems} items`;
    if (prop.maxItems !== undefined && value.length > prop.maxItems) return `at most ${prop.maxItems} items`;
    const long = value.find((v) => prop.items?.maxLength !== undefined && v.length > prop.items.maxLength);
    if (long !== undefined) return `items of at most ${prop.items.maxLength} characters`;
  }
  return "";
}

function verdictView(verdict, response) {
  const blocks =
    verdict.mode === "both"
      ? [
          ["strict", verdict.strict],
          ["loose", verdict.loose],
        ]
      : [[verdict.mode ?? "", verdict]];
  // spans index the text the checker read: the response itself in strict mode
  const strict = verdict.mode === "both" ? verdict.strict : verdict.mode === "loose" ? null : verdict;
  const out = [
    h(
      "h2",
      {},
      "Verdict ",
      h("span", { className: verdict.followed_all ? "pass" : "fail" }, verdict.followed_all ? "all followed" : "not all followed"),
    ),
  ];
  if (strict) out.push(highlighted(response, strict.results));
  for (const [label, block] of blocks) {
    out.push(
      h(
        "table",
        { className: "verdicts" },
        h("caption", {}, label ? `${label}` : "results"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["#", "Constraint", "Verdict", "Evidence"].map((t) => h("th", { scope: "col" }, t)),
          ),
        ),
        h(
          "tbody",
          {},
          block.results.map((res, i) =>
            h(
              "tr",
              { className: "verdict" },
              h("td", { className: "num" }, h("span", { className: `swatch s${i % 6}` }), i + 1),
              h(
                "td",
                {},
                h("code", {}, res.id ?? res.text),
                res.compiled ? h("div", { className: "muted" }, `compiled to ${res.compiled.id}`) : null,
              ),
              h(
                "td",
                {},
                h(
                  "span",
                  { className: res.passed === true ? "pass" : "fail" },
                  res.passed === true ? "pass" : res.passed === false ? "fail" : "error",
                ),
              ),
              h(
                "td",
                {},
                h("pre", { className: "evidence", tabindex: 0 }, JSON.stringify(res.evidence ?? res.explanation ?? res.reason ?? {})),
              ),
            ),
          ),
        ),
      ),
    );
  }
  return out;
}

/** The response with every result's evidence spans marked (one colour per constraint). */
function highlighted(response, results) {
  const spans = results
    .flatMap((res, i) => (res.evidence?.spans ?? []).map(([start, end]) => ({ start, end, i })))
    .sort((a, b) => a.start - b.start || b.end - a.end);
  const parts = [];
  let at = 0;
  for (const s of spans) {
    if (s.start < at) continue; // overlapping: the earlier span is shown
    parts.push(
      response.slice(at, s.start),
      h("mark", { className: `s${s.i % 6}`, title: `constraint ${s.i + 1}` }, response.slice(s.start, s.end)),
    );
    at = s.end;
  }
  parts.push(response.slice(at));
  return h(
    "figure",
    { className: "highlight" },
    h("figcaption", {}, `Response, ${spans.length} matched span${spans.length === 1 ? "" : "s"} marked`),
    h("pre", { className: "response" }, parts),
  );
}
