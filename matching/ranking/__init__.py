"""Supplier ranking, one module per step of the pipeline for one RFQ over a ``ShopIndex``:

1. ``index``: the inputs (``Rfq``, ``ShopInput``) and ``ShopIndex``, columnar arrays of every
   shop, precomputed once per refresh (cold-start priors for shops without history).
2. ``filters``: the hard filters (process, envelope, material, tolerance, certification,
   capacity); the first that fails is the reason counted.
3. ``features``: ``FEATURES``, vectorised over the surviving shops.
4. ``estimator``: ``LambdaRanker`` (LightGBM lambdarank / rank_xendcg), NDCG, its artifact.
5. ``exposure``: the optional exposure budget (fairness of exposure).
6. ``reasons``: plain words for the shops shown.
7. ``match``: ``rank`` and ``partners_for`` put the steps together.
"""

# A ranker pickled before the split names its class ``matching.ranking.LambdaRanker``.
from matching.ranking.estimator import LambdaRanker

__all__ = ["LambdaRanker"]
