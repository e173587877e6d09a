#!/usr/bin/env python3
"""Fails when a module of dx-core imports one of a higher layer.

The layers are listed in core/src/lib.rs, lowest first, as comment lines
`// layer NAME: mod mod ...`. Every `crate::<module>` path in a module's
files counts (doc comments and `#[cfg(test)]` code excepted: tests may
reach up). A cycle between modules, inside a layer too, is an error:
each module must be understandable from the ones below it.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent / "core" / "src"


def layers() -> dict[str, int]:
    rank = {}
    for n, line in enumerate(
        l for l in (ROOT / "lib.rs").read_text().splitlines() if l.startswith("// layer ")
    ):
        _, mods = line[len("// layer "):].split(":", 1)
        for m in mods.split():
            rank[m] = n
    if not rank:
        sys.exit("check-layers: no `// layer NAME: ...` lines in core/src/lib.rs")
    return rank


def code_of(path: pathlib.Path) -> str:
    """The file without comments and without its `#[cfg(test)]` module."""
    if path.name == "tests.rs" or "tests" in path.relative_to(ROOT).parts[:-1]:
        return ""
    text = path.read_text()
    cut = re.search(r"^#\[cfg\(test\)\]\s*\n\s*mod \w+ \{", text, re.M)
    if cut:
        text = text[: cut.start()]
    return "\n".join(l.split("//", 1)[0] for l in text.splitlines())


def cycles_of(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module
    (Tarjan), each listed from its smallest name."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            part = []
            while True:
                w = stack.pop()
                on.discard(w)
                part.append(w)
                if w == v:
                    break
            if len(part) > 1:
                found.append(sorted(part))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def main() -> int:
    rank = layers()
    names = {n for n, r in sorted(rank.items(), key=lambda kv: kv[1])}
    names_by_rank: dict[int, str] = {}
    for line in (ROOT / "lib.rs").read_text().splitlines():
        if line.startswith("// layer "):
            names_by_rank[len(names_by_rank)] = line[len("// layer "):].split(":", 1)[0]
    errors, edges = [], {}
    for path in sorted(ROOT.rglob("*.rs")):
        rel = path.relative_to(ROOT)
        if rel.name == "lib.rs":
            continue
        top = rel.parts[0].removesuffix(".rs")
        if top not in rank:
            errors.append(f"{rel}: module `{top}` is in no layer of core/src/lib.rs")
            continue
        code = code_of(path)
        used = set(re.findall(r"\bcrate::(\w+)", code))
        for group in re.findall(r"\bcrate::\{([^}]*)\}", code, re.S):
            used |= set(re.findall(r"(?:^|,)\s*(\w+)", group))
        for dep in sorted(used - {top}):
            if dep not in names:
                continue
            edges.setdefault(top, set()).add(dep)
            if rank[dep] > rank[top]:
                errors.append(
                    f"{rel}: `{top}` ({names_by_rank[rank[top]]}) uses `{dep}` ({names_by_rank[rank[dep]]}), a higher layer"
                )
    for cycle in cycles_of(edges):
        errors.append("cycle between " + ", ".join(f"`{m}`" for m in cycle))
    for e in errors:
        print(e)
    if errors:
        print(f"check-layers: {len(errors)} import(s) climb a layer or close a cycle")
        return 1
    print(f"check-layers: ok ({len(rank)} modules in {len(names_by_rank)} layers)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
