/**
 * Packages meet only through their names: a relative import (`./`, `../`) never resolves into
 * another package. The packages are the root (the Worker, CLI, scripts, tests and demo),
 * gpu-trainer/ (@iopo/gpu-trainer) and each packages/<name>/ (@iopo/<name>); code that two of them
 * need lives in one package and the other imports it by name. Tests of two packages together (the
 * trainer against the Worker) live in the root's test/e2e and import the trainer by name.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "../..");

/** The package a repository path belongs to. */
function packageOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] === "gpu-trainer") return "gpu-trainer";
  if (parts[0] === "packages" && parts.length > 2) return `packages/${parts[1]}`;
  return "root";
}

/** The module specifiers of static imports, re-exports, side-effect imports and dynamic imports. */
function importSpecifiers(source: string): string[] {
  const specifiers: string[] = [];
  const patterns = [
    /\b(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])([^'"]+)\1/g,
    /\bimport\s*(['"])([^'"]+)\1/g,
    /\bimport\s*\(\s*(['"])([^'"]+)\1\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of source.matchAll(pattern)) specifiers.push(match[2]!);
  return specifiers;
}

/** Every relative import in the tracked sources that resolves into another package, as "from -> to". */
function crossings(): string[] {
  const files = execFileSync("git", ["ls-files", "*.ts", "*.mts", "*.mjs", "*.js"], { cwd: root, encoding: "utf8" })
    .split("\n")
    .filter(Boolean);
  const found: string[] = [];
  for (const file of files) {
    for (const specifier of importSpecifiers(readFileSync(join(root, file), "utf8"))) {
      if (!specifier.startsWith("./") && !specifier.startsWith("../")) continue;
      const target = relative(root, normalize(join(root, dirname(file), specifier)))
        .split("\\")
        .join("/");
      if (target.startsWith("..") || packageOf(target) !== packageOf(file)) found.push(`${file} -> ${target}`);
    }
  }
  return found;
}

describe("package boundaries", () => {
  it("finds every kind of import specifier", () => {
    const source = `import a from "./a.ts";\nimport type { B } from '../b.ts';\nexport { c } from "./c.ts";\nimport "./d.ts";\nconst e = await import("../e.mjs");\nimport {\n  f,\n} from "@iopo/common";`;
    expect(importSpecifiers(source).sort()).toEqual(["../b.ts", "../e.mjs", "./a.ts", "./c.ts", "./d.ts", "@iopo/common"]);
    expect([
      packageOf("src/app.ts"),
      packageOf("demo/run.ts"),
      packageOf("gpu-trainer/src/index.ts"),
      packageOf("packages/common/src/order.ts"),
      packageOf("packages/graph/src/index.ts"),
    ]).toEqual(["root", "root", "gpu-trainer", "packages/common", "packages/graph"]);
  });

  it("no relative import resolves into another package", () => {
    expect(crossings()).toEqual([]);
  });
});
