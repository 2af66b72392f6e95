"""The shop catalogs: materials, machines, finishes, tolerances, roughness, stock, drills, rates.

Read once per directory from the YAML files in ``data/catalogs/`` (every value there carries a
``source``; ``data/README.md`` lists them). Modules, one concern each:

- ``schema``: pydantic models of the files (a missing or mistyped field is a ``CatalogError``
  naming the file and the field);
- ``loading``: ``load_catalog``: files -> entries -> one ``Catalog``, cached per directory;
- ``entries``: the frozen dataclasses the engine reads (``Material``, ``Machine``, ...);
- ``resolution``: ``Catalog`` and the functions that turn what a customer types ("6061-T6",
  "iso2768m", "0.02", "alumite") into entries, with typed errors listing the accepted names.

The names below are the package's public interface; import them from ``quote.catalogs``.
"""

from quote.catalogs.entries import (
    Cutters,
    DrillSize,
    Finish,
    LeadTimeParams,
    Machine,
    Material,
    Rates,
    RoughnessClass,
    StockSizes,
    Tolerance,
    ToleranceClass,
    ToleranceTable,
)
from quote.catalogs.loading import DEFAULT_CATALOG_DIR, load_catalog
from quote.catalogs.resolution import (
    Catalog,
    check_finish_applies,
    compatible_finishes,
    match_drill,
    process_tolerance_limits,
    resolve_finish,
    resolve_material,
    resolve_roughness,
    resolve_tolerance,
)
from quote.errors import CatalogError

__all__ = [
    "DEFAULT_CATALOG_DIR",
    "Catalog",
    "CatalogError",
    "Cutters",
    "DrillSize",
    "Finish",
    "LeadTimeParams",
    "Machine",
    "Material",
    "Rates",
    "RoughnessClass",
    "StockSizes",
    "Tolerance",
    "ToleranceClass",
    "ToleranceTable",
    "check_finish_applies",
    "compatible_finishes",
    "load_catalog",
    "match_drill",
    "process_tolerance_limits",
    "resolve_finish",
    "resolve_material",
    "resolve_roughness",
    "resolve_tolerance",
]
