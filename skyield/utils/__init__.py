"""Input validation, random-state and device helpers shared by every estimator."""

from skyield.utils._param_validation import (
    HasMethods,
    Interval,
    Options,
    Satisfies,
    check_param,
    validate_params,
)
from skyield.utils._torch import resolve_device, seed_from_random_state, torch_seed
from skyield.utils.validation import (
    Panel,
    TargetLayout,
    check_coverage,
    check_family_panel,
    check_horizons,
    check_increasing_levels,
    check_maturities,
    check_panel,
    check_targets,
    check_window,
    resolve_maturities,
    restore_target_layout,
    target_positions,
    validate_windows,
)

__all__ = [
    "HasMethods",
    "Interval",
    "Options",
    "Panel",
    "Satisfies",
    "TargetLayout",
    "check_coverage",
    "check_family_panel",
    "check_horizons",
    "check_increasing_levels",
    "check_maturities",
    "check_panel",
    "check_param",
    "check_targets",
    "check_window",
    "resolve_device",
    "resolve_maturities",
    "restore_target_layout",
    "seed_from_random_state",
    "target_positions",
    "torch_seed",
    "validate_params",
    "validate_windows",
]
