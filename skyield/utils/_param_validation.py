"""Declarative validation of hyper-parameters and arguments.

Every estimator states what each of its constructor parameters may be in a class
attribute ``_parameter_constraints`` (``{name: [constraint, ...]}``, any one of which
must hold), in the style of scikit-learn's; the bases of :mod:`skyield.base` check them
at the top of ``fit``, and :func:`check_param` checks one argument of a function or
method (``steps``, ``n_paths``, ...) the same way. Written here rather than imported
from scikit-learn because scikit-learn's validation framework is private API.

A constraint is one of:

- ``None``: the value None;
- ``"boolean"``: True or False (NumPy booleans included);
- ``"random_state"``: None, an integer or a ``numpy.random.RandomState``;
- ``"array-like"``: anything NumPy can turn into an array (not a string);
- ``"callable"``;
- a type: an instance of it (booleans never count as numbers);
- :class:`Interval`, :class:`Options`, :class:`HasMethods` or :class:`Satisfies`.

The error names the parameter, lists what is allowed and shows the value given.
"""

from numbers import Integral, Real

import numpy as np

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "Satisfies",
    "check_param",
    "validate_params",
]


class Interval:
    """Numbers of one kind in a range.

    Parameters
    ----------
    kind : {numbers.Integral, numbers.Real}
        Integers only, or any real number (integers included). Booleans never qualify.
    left, right : float or None
        Bounds; None for an unbounded side.
    closed : {"both", "left", "right", "neither"}, default="both"
        Which bounds belong to the interval.
    """

    def __init__(self, kind, left, right, *, closed="both"):
        if kind not in (Integral, Real):
            raise ValueError(f"kind must be numbers.Integral or numbers.Real, got {kind!r}")
        if closed not in ("both", "left", "right", "neither"):
            raise ValueError(f"closed must be 'both', 'left', 'right' or 'neither', got {closed!r}")
        self.kind = kind
        self.left = left
        self.right = right
        self.closed = closed

    def is_satisfied_by(self, value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, self.kind):
            return False
        if self.kind is Real and not np.isfinite(value):
            return False
        if self.left is not None:
            inside = value >= self.left if self.closed in ("both", "left") else value > self.left
            if not inside:
                return False
        if self.right is not None:
            inside = value <= self.right if self.closed in ("both", "right") \
                else value < self.right
            if not inside:
                return False
        return True

    def __str__(self):
        noun = "an integer" if self.kind is Integral else "a number"
        low = "-inf" if self.left is None else f"{self.left:g}"
        high = "inf" if self.right is None else f"{self.right:g}"
        opening = "[" if self.closed in ("both", "left") and self.left is not None else "("
        ending = "]" if self.closed in ("both", "right") and self.right is not None else ")"
        return f"{noun} in {opening}{low}, {high}{ending}"


class Options:
    """One of a fixed set of values (compared with ``==``; strings never match numbers).

    Parameters
    ----------
    *values : object
        The allowed values.
    """

    def __init__(self, *values):
        self.values = values

    def is_satisfied_by(self, value):
        for option in self.values:
            if isinstance(option, str) != isinstance(value, str) or \
                    isinstance(option, (bool, np.bool_)) != isinstance(value, (bool, np.bool_)):
                continue
            try:
                equal = value == option
            except (TypeError, ValueError):
                continue
            if isinstance(equal, (bool, np.bool_)) and equal:
                return True
        return False

    def __str__(self):
        return "one of " + ", ".join(repr(v) for v in self.values)


class HasMethods:
    """An object with the given methods (an estimator, a splitter, ...).

    Parameters
    ----------
    *methods : str
        Method names the object must have.
    """

    def __init__(self, *methods):
        self.methods = methods

    def is_satisfied_by(self, value):
        return all(callable(getattr(value, m, None)) for m in self.methods)

    def __str__(self):
        return "an object with " + ", ".join(f"{m}()" for m in self.methods)


class Satisfies:
    """A value for which ``predicate(value)`` is true, described by ``description``.

    Parameters
    ----------
    predicate : callable
        Returns True for valid values; an exception counts as False.
    description : str
        What a valid value is, for the error message ("a tuple of positive integers").
    """

    def __init__(self, predicate, description):
        self.predicate = predicate
        self.description = description

    def is_satisfied_by(self, value):
        try:
            return bool(self.predicate(value))
        except (TypeError, ValueError, AttributeError):
            return False

    def __str__(self):
        return self.description


def _is_array_like(value):
    if isinstance(value, str) or value is None:
        return False
    return hasattr(value, "__len__") or hasattr(value, "__array__")


_NAMED = {
    "boolean": (lambda v: isinstance(v, (bool, np.bool_)), "True or False"),
    "random_state": (
        lambda v: v is None or isinstance(v, np.random.RandomState)
        or (isinstance(v, Integral) and not isinstance(v, (bool, np.bool_))),
        "None, an integer or a numpy.random.RandomState",
    ),
    "array-like": (_is_array_like, "array-like"),
    "callable": (callable, "a callable"),
}


def _satisfied(constraint, value):
    if constraint is None:
        return value is None
    if isinstance(constraint, str):
        return _NAMED[constraint][0](value)
    if isinstance(constraint, type):
        if isinstance(value, (bool, np.bool_)) and constraint is not bool:
            return False
        return isinstance(value, constraint)
    return constraint.is_satisfied_by(value)


def _describe(constraint):
    if constraint is None:
        return "None"
    if isinstance(constraint, str):
        return _NAMED[constraint][1]
    if isinstance(constraint, type):
        return f"an instance of {constraint.__name__}"
    return str(constraint)


def check_param(value, name, constraints, owner=None):
    """Raise a ValueError naming ``name`` unless ``value`` meets one of ``constraints``.

    Parameters
    ----------
    value : object
        The value to check.
    name : str
        Parameter or argument name, for the message.
    constraints : list
        Constraints, any one of which suffices (see the module docstring).
    owner : str, default=None
        Estimator or function name, for the message.

    Returns
    -------
    value : object
        ``value`` unchanged.

    Examples
    --------
    >>> from numbers import Integral
    >>> from skyield.utils import Interval, check_param
    >>> check_param(3, "steps", [Interval(Integral, 1, None)])
    3
    >>> check_param(0, "steps", [Interval(Integral, 1, None)])
    Traceback (most recent call last):
    ...
    ValueError: steps must be an integer in [1, inf), got 0
    """
    for constraint in constraints:
        if isinstance(constraint, str) and constraint not in _NAMED:
            raise ValueError(f"unknown constraint {constraint!r} for {name}")
        if _satisfied(constraint, value):
            return value
    allowed = [_describe(c) for c in constraints]
    text = allowed[0] if len(allowed) == 1 else ", ".join(allowed[:-1]) + " or " + allowed[-1]
    prefix = f"{owner}: " if owner else ""
    raise ValueError(f"{prefix}{name} must be {text}, got {value!r}")


def validate_params(estimator):
    """Check every constructor parameter of ``estimator`` against its class's constraints.

    Parameters
    ----------
    estimator : estimator instance
        Its class has ``_parameter_constraints``, a dict with one entry per constructor
        parameter (a parameter without an entry is a programming error and raises).

    Raises
    ------
    ValueError
        Naming the first parameter whose value meets none of its constraints.
    """
    constraints = getattr(type(estimator), "_parameter_constraints", None)
    if constraints is None:
        raise TypeError(f"{type(estimator).__name__} declares no _parameter_constraints")
    owner = type(estimator).__name__
    for name, value in estimator.get_params(deep=False).items():
        if name not in constraints:
            raise TypeError(f"{owner}._parameter_constraints has no entry for {name!r}")
        check_param(value, name, constraints[name], owner)
