// The few DOM helpers every page uses: element creation without innerHTML (text is never parsed
// as markup), and formatting.

/**
 * An element: `h("a", {href: "/app"}, "Datasets")`. Attributes starting with "on" are listeners;
 * `false`/`null`/`undefined` attributes and children are skipped; strings become text nodes.
 */
export function h(tag, attributes = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "className") el.className = value;
    else el.setAttribute(name, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === false || child === null || child === undefined) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** Replaces the page content and moves focus to it (keyboard and screen-reader users land there). */
export function render(...children) {
  const main = document.getElementById("main");
  main.replaceChildren();
  append(main, children);
}

export const fmt = (n) => (typeof n === "number" ? n.toLocaleString("en") : String(n ?? ""));

export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/** A long text cut to `max` characters, expandable in place (a <details>). */
export function truncated(text, max = 160) {
  const s = String(text ?? "");
  if (s.length <= max) return h("span", { className: "cell" }, s);
  return h("details", { className: "cell" }, h("summary", {}, `${s.slice(0, max)}…`), h("div", { className: "full" }, s));
}

/** A horizontal bar chart of [label, count] pairs (widths set through the CSSOM, which the CSP allows). */
export function bars(caption, pairs) {
  const max = Math.max(1, ...pairs.map(([, n]) => n));
  return h(
    "figure",
    { className: "bars" },
    h("figcaption", {}, caption),
    h(
      "table",
      {},
      h(
        "tbody",
        {},
        pairs.map(([label, n]) => {
          const bar = h("span", { className: "bar" });
          bar.style.width = `${(100 * n) / max}%`;
          return h(
            "tr",
            {},
            h("th", { scope: "row" }, label),
            h("td", { className: "num" }, fmt(n)),
            h("td", { className: "barcell" }, bar),
          );
        }),
      ),
    ),
  );
}

export const errorBox = (error) => h("div", { className: "error", role: "alert" }, error.message ?? String(error));
