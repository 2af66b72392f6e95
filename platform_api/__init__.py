"""Mitsumori platform API: shops and buyers quote over HTTP; every part, quote and outcome is kept.

The web layer over the pure quote engine (`quote/`). Organised by domain: each package has
``routes.py`` (HTTP only), ``schemas.py``, ``service.py`` (orchestration) and ``repository.py``
(SQL).
"""
