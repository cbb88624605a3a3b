import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { REFERENCE_DATASETS } from "../../src/datasets/reference.ts";
import { REFERENCE_DATA } from "./helpers/ifeval-data.ts";

const root = resolve(import.meta.dirname, "../..");

/** Files under data/, relative to it, except its README and the licence texts. */
function dataFiles(dir = REFERENCE_DATA): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "LICENSES" ? [] : dataFiles(path);
    return entry.name === "README.md" && dir === REFERENCE_DATA ? [] : [relative(REFERENCE_DATA, path)];
  });
}

describe("reference data in the repository", () => {
  const listed = new Map(
    [...readFileSync(join(REFERENCE_DATA, "README.md"), "utf8").matchAll(/^\| `([^`]+)` \| ([\d,]+) \| `([0-9a-f]{64})` \|$/gm)].map(
      (m) => [m[1]!, { bytes: Number(m[2]!.replaceAll(",", "")), sha256: m[3]! }],
    ),
  );

  it("lists every file of data/ in its README, with the size and SHA-256 the file has", () => {
    expect(listed.size).toBeGreaterThan(0);
    expect([...listed.keys()].sort()).toEqual(dataFiles().sort());
    for (const [file, { bytes, sha256 }] of listed) {
      const content = readFileSync(join(REFERENCE_DATA, file));
      expect({ file, bytes: content.length, sha256: createHash("sha256").update(content).digest("hex") }).toEqual({ file, bytes, sha256 });
    }
  });

  it("ships the licence texts the README names", () => {
    const readme = readFileSync(join(REFERENCE_DATA, "README.md"), "utf8");
    const named = [...new Set([...readme.matchAll(/`LICENSES\/([^`]+)`/g)].map((m) => m[1]!))];
    expect(named.sort()).toEqual(readdirSync(join(REFERENCE_DATA, "LICENSES")).sort());
  });

  it("holds each seeded dataset's file with the record count /v1/health expects", () => {
    for (const dataset of REFERENCE_DATASETS) {
      const lines = readFileSync(join(root, dataset.file), "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "");
      expect({ name: dataset.name, records: lines.length }).toEqual({ name: dataset.name, records: dataset.records });
    }
  });
});

describe("the repository stands alone", () => {
  // The folder beside a checkout that holds the project's source material during development; a
  // public clone has nothing there, so no code, config or script may refer to it.
  const outside = ["shared"].map((name) => resolve(root, "..", name));
  const subfolders = ["data", "tools", "docs", "hooks"].map((folder) => `shared/${folder}`);

  it("no tracked code, config or script refers to a path outside the repository's own shared code", () => {
    const files = execFileSync("git", ["ls-files"], { cwd: root, encoding: "utf8" })
      .split("\n")
      .filter((file) => file && !file.endsWith(".md") && !file.startsWith("data/"));
    expect(files.length).toBeGreaterThan(50);
    const offending: string[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(join(root, file), "utf8");
      } catch {
        continue; // deleted in the work tree
      }
      text.split("\n").forEach((line, i) => {
        const where = `${file}:${i + 1}: ${line.trim()}`;
        if (subfolders.some((folder) => line.includes(folder))) offending.push(where);
        // a relative path (dot-dot segments, then "shared") that resolves, from the file, outside the repository
        for (const match of line.matchAll(/((?:\.\.\/)+)shared\b/g)) {
          const target = resolve(dirname(join(root, file)), match[1]!, "shared");
          if (outside.includes(target)) offending.push(where);
        }
      });
    }
    expect(offending).toEqual([]);
  });
});
