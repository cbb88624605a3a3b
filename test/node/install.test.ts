/**
 * `npm ci` on an older system Node (20) warns EBADENGINE for the packages that want Node >= 22
 * (wrangler, miniflare, ...). The README says why that is harmless: nothing runs them on the
 * installing Node; npm scripts and the CLIs run on the `node` devDependency. This holds only while
 * every installed package accepts that Node, which is checked here against package-lock.json.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");
const lock = JSON.parse(readFileSync(join(root, "package-lock.json"), "utf8")) as {
  packages: Record<string, { version?: string; engines?: { node?: string } | string[] }>;
};

type Version = [number, number, number];
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/** Whether `version` satisfies an npm `engines.node` range (||, comparators, ^, ~, partial versions). */
function satisfies(version: Version, range: string): boolean {
  return range.split("||").some((set) =>
    set
      .trim()
      .replace(/(>=|<=|>|<|=|\^|~)\s+/g, "$1")
      .split(/\s+/)
      .filter(Boolean)
      .every((comparator) => {
        const [, op = "", major, minor, patch] = /^(>=|<=|>|<|=|\^|~)?v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(comparator) ?? [];
        if (major === undefined) throw new Error(`unsupported range "${range}"`);
        const low: Version = [Number(major), Number(minor ?? 0), Number(patch ?? 0)];
        // the first version past the range a partial, ^ or ~ version stands for
        const high: Version =
          op === "^" || (op === "" && minor === undefined)
            ? [low[0] + 1, 0, 0]
            : op === "~" || (op === "" && patch === undefined)
              ? [low[0], low[1] + 1, 0]
              : [low[0], low[1], low[2] + 1];
        const c = compare(version, low);
        if (op === ">=") return c >= 0;
        if (op === ">") return c > 0;
        if (op === "<=") return c <= 0;
        if (op === "<") return c < 0;
        return c >= 0 && compare(version, high) < 0;
      }),
  );
}

describe("npm ci's EBADENGINE warnings on an older system Node", () => {
  const node = lock.packages["node_modules/node"]!.version!.split(".").map(Number) as Version;

  it("concern only the installing Node: every installed package accepts the project's Node", () => {
    expect(satisfies([22, 23, 3], "^20.19.0 || >=22.12.0")).toBe(true);
    expect(satisfies([22, 23, 3], "^20.9.0")).toBe(false);
    const refusing = Object.entries(lock.packages)
      .filter(([path, pkg]) => path && existsSync(join(root, path)) && typeof (pkg.engines as { node?: string })?.node === "string")
      .filter(([, pkg]) => !satisfies(node, (pkg.engines as { node: string }).node))
      .map(([path]) => path);
    expect(refusing).toEqual([]);
  });

  it("are explained in the README", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    expect(readme).toMatch(/EBADENGINE[^\n]*\n?[^\n]*harmless/);
  });
});
