"""Discovery of skyield's public estimators (used by the common test suite and the CLI)."""

import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator

__all__ = ["all_estimators"]

_SKIPPED_PACKAGES = ("skyield.cli", "skyield.plotting", "skyield.sktime")


def all_estimators():
    """Return ``(name, class)`` for every public skyield estimator, sorted by name.

    An estimator is a public (non-underscore) subclass of scikit-learn's ``BaseEstimator``
    defined in skyield and exported by a skyield subpackage; the bases of
    :mod:`skyield.base` are not estimators themselves.
    """
    import skyield

    found = {}
    for module_info in pkgutil.walk_packages(skyield.__path__, "skyield."):
        name = module_info.name
        if any(part.startswith("_") for part in name.split(".")[1:]) or \
                name.startswith(_SKIPPED_PACKAGES):
            continue
        module = importlib.import_module(name)
        for attribute, value in vars(module).items():
            if (inspect.isclass(value) and issubclass(value, BaseEstimator)
                    and value.__module__.startswith("skyield.")
                    and value.__module__ != "skyield.base"
                    and not attribute.startswith("_") and not inspect.isabstract(value)):
                found[attribute] = value
    return sorted(found.items())
