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
