"""The web app for buyers and shops, served by the API under ``/app`` (same origin).

``routes.install_web(app)`` adds the pages, the static assets (vendored from npm by ``make web``,
never from a CDN) and ``GET /v1/parts/{id}/mesh``. The pages call the ``/v1`` API with a signed
session cookie (``session.py``); nothing here bypasses the API's ownership rules.
"""
