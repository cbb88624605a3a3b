// The dataset list and a dataset's page: statistics, versions with their manifests, search,
// filters and the rows table (100 per page; the page's whole state is in its URL).
import { api, datasetPath } from "./api.js";
import { go } from "./nav.js";
import { bars, bytes, errorBox, fmt, h, render, truncated } from "./dom.js";

const PAGE = 100;

export async function datasetList() {
  render(h("h1", {}, "Datasets"), h("p", {}, "Loading…"));
  const { datasets } = await api("/v1/datasets");
  // kinds and versions come with each dataset's detail (the first 50 datasets)
  const details = await Promise.all(datasets.slice(0, 50).map((d) => api(datasetPath(d.name)).catch(() => null)));
  render(
    h("h1", {}, "Datasets"),
    h(
      "table",
      { className: "list" },
      h("caption", {}, `${datasets.length} datasets you may read`),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Name", "Visibility", "Records", "Kinds", "Versions"].map((t) => h("th", { scope: "col" }, t)),
        ),
      ),
      h(
        "tbody",
        {},
        datasets.map((d, i) =>
          h(
            "tr",
            {},
            h(
              "td",
              {},
              h("a", { href: `/app/datasets/${encodeURIComponent(d.name)}` }, d.name),
              h("div", { className: "muted" }, d.description),
            ),
            h("td", {}, d.visibility),
            h("td", { className: "num" }, fmt(d.record_count)),
            h(
              "td",
              {},
              details[i]
                ? Object.entries(details[i].statistics.by_kind)
                    .map(([k, n]) => `${k} ${fmt(n)}`)
                    .join(", ")
                : "",
            ),
            h("td", { className: "num" }, details[i] ? fmt(details[i].versions.length) : ""),
          ),
        ),
      ),
    ),
  );
}

/** The URL's query as the page's state: search, filters, page offset, frozen version. */
const FILTERS = [
  "kind",
  "type",
  "dimension",
  "min_constraints",
  "max_constraints",
  "min_instruction_chars",
  "max_instruction_chars",
  "min_response_chars",
  "max_response_chars",
];

export async function datasetPage(name) {
  const params = new URLSearchParams(location.search);
  const q = params.get("q") ?? "";
  const offset = Number(params.get("offset") ?? 0);
  const version = params.get("version");
  const here = (changes) => {
    const next = new URLSearchParams(location.search);
    for (const [k, v] of Object.entries(changes)) {
      if (v === "" || v === null || v === undefined) next.delete(k);
      else next.set(k, String(v));
    }
    const qs = next.toString();
    return `/app/datasets/${encodeURIComponent(name)}${qs ? `?${qs}` : ""}`;
  };

  // Each part of the page appears as its answer arrives. The rows are asked for first and the
  // dataset's detail (with its statistics, the costliest answer) only once they are in, so the
  // table never waits behind the statistics; a frozen version's rows need its record count first.
  const rowsQuery = new URLSearchParams({ offset: String(offset), length: String(PAGE) });
  if (!version) for (const f of FILTERS) if (params.get(f)) rowsQuery.set(f, params.get(f));
  let rows;
  let detail;
  if (version) {
    detail = api(datasetPath(name));
    rows = detail.then(async (d) => {
      const frozen = d.versions.find((v) => String(v.version) === version);
      if (!frozen) throw new Error(`Dataset ${name} has no version ${version}.`);
      // a frozen version is the first record_count positions (records are append-only)
      rowsQuery.set("length", String(Math.max(1, Math.min(PAGE, frozen.record_count - offset))));
      const page = await api(`${datasetPath(name)}/rows?${rowsQuery}`);
      return { ...page, rows: page.rows.filter((r) => r.row_idx < frozen.record_count), num_rows_total: frozen.record_count };
    });
  } else {
    rows = q
      ? api(`${datasetPath(name)}/search?${new URLSearchParams({ q, offset: String(offset), length: String(PAGE) })}`)
      : api(`${datasetPath(name)}/rows?${rowsQuery}`);
    detail = rows.then(
      () => api(datasetPath(name)),
      () => api(datasetPath(name)),
    );
  }
  const taxonomy = api("/v1/taxonomy");

  const summary = h("p", { className: "muted" }, "Loading…");
  const versions = h("div");
  const filters = h("div");
  const table = h("div", {}, h("p", {}, "Loading rows…"));
  const statistics = h("div");
  render(h("h1", {}, name, version ? ` · version ${version}` : ""), summary, versions, searchForm(q, here), filters, table, statistics);

  const shown = [
    rows.then(
      (page) => {
        table.replaceChildren(rowsTable(name, page, offset, here, q));
        performance.mark("iopo:rows-rendered");
        performance.measure("iopo:navigation-to-rows", "iopo:navigate", "iopo:rows-rendered");
      },
      (error) => table.replaceChildren(errorBox(error)),
    ),
    taxonomy.then((t) => {
      if (!version) filters.replaceChildren(filterForm(params, t, here));
    }),
    detail.then(async (d) => {
      const frozen = version ? d.versions.find((v) => String(v.version) === version) : undefined;
      summary.replaceChildren(`${d.description} · ${d.visibility} · ${fmt(d.record_count)} records`);
      versions.replaceChildren(versionsSection(name, d.versions, frozen, here));
      const s = frozen ? (await api(`${datasetPath(name)}/versions/${frozen.version}/statistics`)).statistics : d.statistics;
      statistics.replaceChildren(statisticsSection(s));
    }),
  ];
  await Promise.all(shown);
}

function statisticsSection(s) {
  const lengths = (caption, hist) =>
    bars(
      caption,
      hist.bins.map((b) => [`${fmt(b.from)}–${fmt(b.to)}`, b.count]),
    );
  return h(
    "section",
    { "aria-labelledby": "stats-h" },
    h("h2", { id: "stats-h" }, "Statistics"),
    h(
      "div",
      { className: "grid" },
      bars("Records by kind", Object.entries(s.by_kind)),
      bars("Constraints per instruction", Object.entries(s.constraints_histogram).slice(0, 12)),
      bars("Constraints by TRACE type", Object.entries(s.constraints_by_type)),
      lengths("Prompt length (characters)", s.instruction_chars),
      lengths("Response length (characters)", s.response_chars),
      bars("Constraints by dimension", Object.entries(s.constraints_by_dimension).slice(0, 12)),
    ),
  );
}

function versionsSection(name, versions, frozen, here) {
  const manifestOf = async (v, holder) => {
    try {
      const m = await api(`${datasetPath(name)}/versions/${v.version}/manifest`);
      holder.replaceChildren(
        h(
          "table",
          {},
          h("caption", {}, `Version ${v.version}: ${fmt(m.line_count)} lines in ${m.shard_count} shards`),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Shard", "Records", "Bytes", "SHA-256"].map((t) => h("th", { scope: "col" }, t)),
            ),
          ),
          h(
            "tbody",
            {},
            m.shards.map((s) =>
              h(
                "tr",
                {},
                h("td", {}, h("a", { href: s.url, download: s.name }, s.name)),
                h("td", { className: "num" }, fmt(s.records)),
                h("td", { className: "num" }, bytes(s.bytes)),
                h("td", {}, h("code", { className: "hash" }, s.sha256)),
              ),
            ),
          ),
        ),
      );
    } catch (error) {
      holder.replaceChildren(errorBox(error));
    }
  };
  return h(
    "section",
    { "aria-labelledby": "versions-h" },
    h("h2", { id: "versions-h" }, "Versions"),
    versions.length === 0
      ? h("p", {}, "No frozen version yet.")
      : h(
          "ul",
          { className: "versions" },
          h("li", {}, frozen ? h("a", { href: here({ version: null, offset: null }) }, "Live records") : h("strong", {}, "Live records")),
          versions.map((v) => {
            const holder = h("div");
            const details = h(
              "details",
              { ontoggle: (e) => e.target.open && holder.childElementCount === 0 && manifestOf(v, holder) },
              h("summary", {}, "manifest"),
              holder,
            );
            return h(
              "li",
              {},
              frozen?.version === v.version
                ? h("strong", {}, `Version ${v.version}`)
                : h("a", { href: here({ version: v.version, offset: null, q: null }) }, `Version ${v.version}`),
              ` · ${fmt(v.record_count)} records · ${v.created_at.slice(0, 10)} `,
              details,
            );
          }),
        ),
  );
}

function searchForm(q, here) {
  const input = h("input", { id: "q", name: "q", type: "search", value: q, placeholder: "words or 中文 phrases", maxlength: 200 });
  return h(
    "form",
    {
      role: "search",
      className: "search",
      onsubmit: (e) => {
        e.preventDefault();
        go(here({ q: input.value.trim(), offset: null, version: null }));
      },
    },
    h("label", { for: "q" }, "Search prompts and responses"),
    input,
    h("button", { type: "submit" }, "Search"),
  );
}

function filterForm(params, taxonomy, here) {
  const field = (name, label, control) => h("div", { className: "field" }, h("label", { for: `f-${name}` }, label), control);
  const select = (name, options) =>
    h(
      "select",
      { id: `f-${name}`, name },
      h("option", { value: "" }, "any"),
      options.map((o) => h("option", { value: o, selected: params.get(name) === o }, o)),
    );
  const number = (name) =>
    h("input", { id: `f-${name}`, name, type: "number", min: 0, inputmode: "numeric", value: params.get(name) ?? "" });
  const form = h(
    "form",
    {
      className: "filters",
      onsubmit: (e) => {
        e.preventDefault();
        const data = new FormData(form);
        go(here({ ...Object.fromEntries(FILTERS.map((f) => [f, data.get(f)])), offset: null, q: null }));
      },
    },
    h(
      "fieldset",
      {},
      h("legend", {}, "Filter rows"),
      field("kind", "Kind", select("kind", ["instruction", "sft", "dpo", "iopo"])),
      field(
        "type",
        "Constraint type",
        select(
          "type",
          taxonomy.types.map((t) => t.name),
        ),
      ),
      field(
        "dimension",
        "Dimension",
        select(
          "dimension",
          taxonomy.types.flatMap((t) => t.dimensions.map((d) => d.name)),
        ),
      ),
      field("min_constraints", "Constraints ≥", number("min_constraints")),
      field("max_constraints", "Constraints ≤", number("max_constraints")),
      field("min_instruction_chars", "Prompt chars ≥", number("min_instruction_chars")),
      field("max_instruction_chars", "Prompt chars ≤", number("max_instruction_chars")),
      field("min_response_chars", "Response chars ≥", number("min_response_chars")),
      field("max_response_chars", "Response chars ≤", number("max_response_chars")),
      h("button", { type: "submit" }, "Apply"),
    ),
  );
  return form;
}

/** The text a row shows in its columns: task, constraints, response(s). */
function columnsOf(row) {
  const instruction = row.instruction ?? row.prompt ?? row.x1;
  const constraints = (instruction?.constraints ?? []).map((c) => c.text).join("\n");
  const response = row.response ?? row.chosen ?? row.y1 ?? "";
  return [instruction?.prompt ?? instruction?.description ?? "", constraints, response];
}

function rowsTable(name, page, offset, here, q) {
  // instruction datasets have no responses: no empty column
  const withResponses = page.rows.some((r) => columnsOf(r.row)[2] !== "");
  const last = Math.min(offset + page.rows.length, page.num_rows_total);
  const pager = h(
    "nav",
    { className: "pager", "aria-label": "Pages" },
    offset > 0 ? h("a", { href: here({ offset: Math.max(0, offset - PAGE) || null }) }, "← Previous") : null,
    h("span", {}, page.num_rows_total === 0 ? "No rows" : `Rows ${fmt(offset + 1)}–${fmt(last)} of ${fmt(page.num_rows_total)}`),
    last < page.num_rows_total ? h("a", { href: here({ offset: offset + PAGE }) }, "Next →") : null,
  );
  return h(
    "section",
    { "aria-labelledby": "rows-h" },
    h("h2", { id: "rows-h" }, q ? `Search results for “${q}”` : "Rows"),
    pager,
    h(
      "div",
      { className: "scroll" },
      h(
        "table",
        { className: "rows", id: "rows" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["#", "Kind", "Task", "Constraints", withResponses ? "Response" : null].map((t) => t && h("th", { scope: "col" }, t)),
          ),
        ),
        h(
          "tbody",
          {},
          page.rows.map((r) => {
            const [task, constraints, response] = columnsOf(r.row);
            return h(
              "tr",
              { id: `row-${r.row_idx}` },
              h(
                "td",
                { className: "num" },
                h(
                  "a",
                  { href: `/app/datasets/${encodeURIComponent(name)}/rows/${r.row_idx}`, "aria-label": `Record ${r.row_idx}` },
                  r.row_idx,
                ),
              ),
              h("td", {}, r.row.kind),
              h("td", {}, truncated(task)),
              h("td", {}, truncated(constraints)),
              withResponses ? h("td", {}, truncated(response)) : null,
            );
          }),
        ),
      ),
    ),
    pager.cloneNode(true),
  );
}
