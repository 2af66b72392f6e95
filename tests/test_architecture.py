"""The core stays pure: quote/ and matching/ import without the web or database layers."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import REPO_ROOT

BLOCKED = ("fastapi", "sqlmodel", "sqlalchemy", "platform_api", "starlette", "psycopg")


def test_core_imports_without_web_or_database() -> None:
    code = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {BLOCKED!r}:
                    raise ImportError("blocked in the pure core: " + name)
                return None
        sys.meta_path.insert(0, Block())
        import quote, matching
        names = []
        for pkg in (quote, matching):
            for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
                importlib.import_module(mod.name)
                names.append(mod.name)
        print(len(names))
        """
    )
    res = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert int(res.stdout.strip().splitlines()[-1]) >= 5


def _core_import_graph() -> dict[str, set[str]]:
    """Module -> core modules it imports (every import statement, also those inside functions;
    edges to a module's own parent packages are left out, Python imports those first anyway)."""
    import ast

    mods = {}
    for pkg in ("quote", "matching"):
        for p in (REPO_ROOT / pkg).rglob("*.py"):
            name = ".".join(p.relative_to(REPO_ROOT).with_suffix("").parts)
            mods[name.removesuffix(".__init__")] = p
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                    for a in node.names
                ]
            elif isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != m and not m.startswith(t + "."):
                    graph[m].add(t)
    return graph


def test_core_modules_import_each_other_without_cycles() -> None:
    graph = _core_import_graph()
    assert "quote.corpus" in graph["quote.warmup"] and "quote.analysis" in graph["quote.corpus"]
    cycles = []
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                cycles.append(path[path.index(t) :] + [t])
            elif t not in state:
                visit(t, [*path, t])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert cycles == [], f"import cycles in the core: {cycles}"
