"""Sequence models made of fitted sequence models that move forward together.

A seed ensemble of sequence models and a forecast combination of them keep their fitted
members in ``estimators_`` and forecast from all of them: every date that reaches the
meta-model (``update``, and the block forecasts of ``predict`` and ``score``, which run
the hooks of :class:`skyield.base.BaseSequenceModel` on a copy) must reach every member.
This base does that once, through the members' own hooks, and keeps their date
bookkeeping in step with the meta-model's (``update`` is the base's).
"""

from skyield.base import BaseSequenceModel

__all__ = ["MemberSequenceModel", "check_sequence_member"]


def check_sequence_member(estimator, owner, what, hint=""):
    """Raise unless ``estimator`` is a skyield sequence model of one panel.

    Such a model derives from :class:`skyield.base.BaseSequenceModel` and implements its
    hooks (``_update`` at least); :class:`skyield.compose.PerFamily`, which drives one
    model per family through its public methods, does not.

    Parameters
    ----------
    estimator : estimator
    owner : str
        The meta-model's name, for the message.
    what : str
        The member's description in the message (e.g. ``"member 'dns'"``).
    hint : str, default=""
        Appended to the message.
    """
    if not isinstance(estimator, BaseSequenceModel) or \
            type(estimator)._update is BaseSequenceModel._update:
        raise TypeError(
            f"{owner} needs skyield sequence models of one panel; {what} "
            f"({type(estimator).__name__}) is not one{hint}"
        )


class MemberSequenceModel(BaseSequenceModel):
    """A sequence model whose fitted members, ``estimators_``, move forward with it.

    Subclasses fit ``estimators_`` (sequence models with the hooks of
    :class:`skyield.base.BaseSequenceModel`) and define the forecast hooks; ``_update``,
    ``_skip`` and ``_advance`` (so ``update``) pass every date on to every member.
    """

    @property
    def _allow_missing(self):
        members = getattr(self, "estimators_", None) or self._unfitted_members()
        return all(getattr(member, "_allow_missing", False) for member in members)

    def _unfitted_members(self):
        raise NotImplementedError

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self._allow_missing
        return tags

    def _update(self, values):
        for member in self.estimators_:
            member._update(values)

    def _skip(self, n_steps):
        for member in self.estimators_:
            member._skip(n_steps)

    def _advance(self, panel):
        # update() moves the dates seen on: the members' as well as this model's.
        super()._advance(panel)
        for member in self.estimators_:
            member._advance(panel)
