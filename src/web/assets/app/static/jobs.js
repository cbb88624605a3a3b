// Jobs: the list (every job of every dataset you may read) and a job's page, which polls while
// the job is pending or running. Controls are shown only where the API has the route (cancel,
// pause, resume, and running the next batches where the server has no job queue).
import { api, apiKey, datasetPath, hasRoute } from "./api.js";
import { onLeave } from "./nav.js";
import { errorBox, fmt, h, render } from "./dom.js";

const POLL_MS = 2000;
const ACTIVE = new Set(["pending", "running"]);
const jobPath = (name, id) => `${datasetPath(name)}/jobs/${encodeURIComponent(id)}`;
const jobLink = (name, id) => `/app/jobs/${encodeURIComponent(name)}/${encodeURIComponent(id)}`;

export async function jobList() {
  render(h("h1", {}, "Jobs"), h("p", {}, "Loading…"));
  const { datasets } = await api("/v1/datasets");
  const lists = await Promise.all(
    datasets.map((d) =>
      api(`${datasetPath(d.name)}/jobs`).then(
        (r) => r.jobs.map((job) => ({ dataset: d.name, job })),
        () => [],
      ),
    ),
  );
  // a job is listed under its source and its target dataset: once each
  const byId = new Map(lists.flat().map((entry) => [entry.job.id, entry]));
  const all = [...byId.values()].sort((a, b) => b.job.created_at.localeCompare(a.job.created_at));
  render(
    h("h1", {}, "Jobs"),
    all.length === 0
      ? h(
          "p",
          {},
          "No jobs yet. Start one with POST /v1/datasets/{name}/jobs/build-quadruples or build-trace (or npx iopo build-quadruples).",
        )
      : h(
          "table",
          { className: "list" },
          h("caption", {}, `${all.length} jobs, newest first`),
          h(
            "thead",
            {},
            h(
              "tr",
              {},
              ["Job", "Dataset", "Kind", "Status", "Progress", "Created"].map((t) => h("th", { scope: "col" }, t)),
            ),
          ),
          h(
            "tbody",
            {},
            all.map(({ dataset, job }) =>
              h(
                "tr",
                {},
                h("td", {}, h("a", { href: jobLink(dataset, job.id) }, job.id.slice(0, 8))),
                h("td", {}, dataset),
                h("td", {}, job.kind),
                h("td", {}, h("span", { className: `status ${job.status}` }, job.status)),
                h("td", {}, progressBar(job)),
                h("td", {}, job.created_at.replace("T", " ").slice(0, 19)),
              ),
            ),
          ),
        ),
  );
}

function progressBar(job) {
  return h(
    "progress",
    { max: Math.max(1, job.total), value: job.cursor, "aria-label": `${job.cursor} of ${job.total} processed` },
    `${job.cursor}/${job.total}`,
  );
}

export async function jobPage(name, id) {
  const controls = await Promise.all(
    [
      ["run", "Run next batches", { max_batches: 1 }],
      ["cancel", "Cancel"],
      ["pause", "Pause"],
      ["resume", "Resume"],
    ].map(async ([action, label, body]) =>
      (await hasRoute("post", `/v1/datasets/{name}/jobs/{id}/${action}`)) ? { action, label, body } : null,
    ),
  );
  let timer;
  let stopped = false;
  onLeave(() => {
    stopped = true;
    clearTimeout(timer);
  });
  const refresh = async () => {
    let job;
    let rejects;
    try {
      [job, rejects] = await Promise.all([api(jobPath(name, id)), api(`${jobPath(name, id)}/rejects?limit=1`).catch(() => null)]);
    } catch (error) {
      render(errorBox(error));
      return;
    }
    if (stopped) return;
    const examples = rejects ? await rejectExamples(name, id, Object.keys(rejects.by_reason)) : {};
    if (stopped) return;
    render(jobView(name, job, rejects, examples, controls.filter(Boolean), refresh));
    if (ACTIVE.has(job.status)) timer = setTimeout(refresh, POLL_MS);
  };
  await refresh();
}

/** Up to two rejected records per reason (the first five reasons). */
async function rejectExamples(name, id, reasons) {
  const pairs = await Promise.all(
    reasons
      .slice(0, 5)
      .map(async (reason) => [reason, (await api(`${jobPath(name, id)}/rejects?${new URLSearchParams({ reason, limit: "2" })}`)).rejects]),
  );
  return Object.fromEntries(pairs);
}

/** Whether a control applies to the job as it stands (`run` only where no queue runs it). */
function fits(control, job) {
  if (control.action === "resume") return job.status === "paused" || job.status === "failed";
  if (control.action === "run") return ACTIVE.has(job.status) && job.runner !== "queue";
  return ACTIVE.has(job.status);
}

function jobView(name, job, rejects, examples, controls, refresh) {
  const p = job.progress;
  const usage = p.usage;
  const act = async (control, button) => {
    button.disabled = true;
    try {
      await api(`${jobPath(name, job.id)}/${control.action}`, { method: "POST", body: control.body ?? {} });
    } catch (error) {
      document.getElementById("job-controls")?.append(errorBox(error));
    }
    await refresh();
  };
  return [
    h("p", {}, h("a", { href: "/app/jobs" }, "← Jobs")),
    h("h1", {}, `${job.kind} `, h("code", {}, job.id.slice(0, 8))),
    h(
      "dl",
      { className: "facts", id: "job-facts" },
      h("dt", {}, "Dataset"),
      h("dd", {}, h("a", { href: `/app/datasets/${encodeURIComponent(name)}` }, name), job.params.target ? ` → ${job.params.target}` : ""),
      h("dt", {}, "Status"),
      h(
        "dd",
        {},
        h("span", { className: `status ${job.status}`, id: "job-status" }, job.status),
        ACTIVE.has(job.status) ? " (updates itself)" : "",
      ),
      h("dt", {}, "Progress"),
      h("dd", {}, progressBar(job), h("span", { id: "job-progress" }, ` ${fmt(job.cursor)} of ${fmt(job.total)} source records`)),
      h("dt", {}, "Output"),
      h(
        "dd",
        {},
        `${fmt(p.produced)} produced, ${fmt(p.duplicates)} duplicates`,
        Object.keys(p.by_op).length
          ? ` (${Object.entries(p.by_op)
              .map(([k, n]) => `${k} ${n}`)
              .join(", ")})`
          : "",
      ),
      h("dt", {}, "Tokens"),
      h(
        "dd",
        {},
        usage
          ? `${fmt(usage.prompt_tokens)} prompt + ${fmt(usage.completion_tokens)} completion = ${fmt(usage.total_tokens)} in ${fmt(usage.calls)} calls; ${fmt(usage.cache_hits)} cache hits`
          : "no model calls",
      ),
      job.error ? [h("dt", {}, "Error"), h("dd", { className: "fail" }, job.error)] : null,
    ),
    apiKey() && controls.some((c) => fits(c, job))
      ? h(
          "div",
          { id: "job-controls", className: "controls" },
          controls
            .filter((c) => fits(c, job))
            .map((c) => {
              const button = h("button", { type: "button", onclick: () => act(c, button) }, c.label);
              return button;
            }),
        )
      : null,
    h("h2", {}, "Rejects by reason"),
    !rejects || rejects.total === 0
      ? h("p", {}, "None.")
      : h(
          "ul",
          { className: "rejects" },
          Object.entries(rejects.by_reason).map(([reason, n]) =>
            h(
              "li",
              {},
              h("strong", {}, reason),
              ` · ${fmt(n)}`,
              (examples[reason] ?? []).map((r) =>
                h(
                  "details",
                  {},
                  h("summary", {}, `record at position ${r.position} (${r.stage})`),
                  h("pre", {}, JSON.stringify(r.detail, null, 2)),
                ),
              ),
            ),
          ),
        ),
  ];
}
