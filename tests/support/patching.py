"""Swapping a name the API views read (their settings, their Redis client) in every view module."""

from __future__ import annotations

import pkgutil
from importlib import import_module
from typing import Any

import pytest


def patch_views(monkeypatch: pytest.MonkeyPatch, name: str, value: Any) -> None:
    """``monkeypatch.setattr`` of ``name`` in each module of ``web.wallets.api.views`` that reads it."""
    package = import_module("web.wallets.api.views")
    for found in pkgutil.iter_modules(package.__path__):
        module = import_module(f"{package.__name__}.{found.name}")
        if hasattr(module, name):
            monkeypatch.setattr(module, name, value)
