"""English and Japanese carry the same strings, and every string the pages ask for exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.conftest import REPO_ROOT

WEB = REPO_ROOT / "platform_api" / "web" / "static"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _load(lang: str) -> dict[str, str]:
    return json.loads((WEB / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _scripts() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted((WEB / "js").rglob("*.js")))


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    en, ja = _load("en"), _load("ja")
    assert en.keys() == ja.keys()
    for key in en:
        assert en[key].strip() and ja[key].strip(), key
        assert set(PLACEHOLDER.findall(en[key])) == set(PLACEHOLDER.findall(ja[key])), key
    # Japanese is really Japanese (not an English copy) for the visible labels.
    kana = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
    translated = [k for k in en if kana.search(ja[k])]
    assert len(translated) > 0.9 * len(en)


def test_every_string_the_scripts_use_exists() -> None:
    en = _load("en")
    used = set(re.findall(r"""\bt\(\s*["']([\w.-]+)["']""", _scripts()))
    assert len(used) > 150
    missing = sorted(used - en.keys())
    assert not missing, missing


def test_values_shown_through_dynamic_keys_are_translated() -> None:
    """Codes the API returns are looked up as ``prefix.code``: each code needs a string."""
    en = _load("en")
    dfm_src = (REPO_ROOT / "quote" / "geometry" / "dfm.py").read_text()
    dfm_codes = set(re.findall(r'DfmWarning\(\s*"([a-z_]+)"', dfm_src))
    assert len(dfm_codes) >= 8
    from matching.ranking.filters import FILTERS
    from platform_api.quotes.schemas import _QUOTE_EXAMPLE

    expected = (
        [f"dfm.{c}" for c in dfm_codes]
        + [f"cost.{c}" for c in _QUOTE_EXAMPLE["breakdown"]]
        + [f"filter.{f}" for f in FILTERS]
        + [f"state.{s}" for s in ("productive", "standby", "setup", "down", "offline")]
        + [f"status.{s}" for s in ("quoted", "sent", "won", "lost", "no_bid")]
        + [f"tier.{s}" for s in ("express", "standard", "economy")]
        + [f"inbox.reason.{r}" for r in ("capacity", "deadline", "not_manufacturable", "price")]
        + [f"job.{s}" for s in ("queued", "running", "succeeded", "failed")]
        + [f"process.{p}" for p in ("mill", "lathe", "mill-turn")]
    )
    missing = sorted(k for k in expected if k not in en)
    assert not missing, missing


def test_sign_in_page_strings_come_from_the_same_files() -> None:
    src = Path(REPO_ROOT / "platform_api" / "web" / "routes.py").read_text()
    en = _load("en")
    for key in re.findall(r's\["([\w.]+)"\]', src):
        assert key in en, key
