"""The only module importing private scikit-learn API (STYLE §4)."""

from sklearn.base import _fit_context  # noqa: F401
from sklearn.utils._param_validation import (  # noqa: F401
    HasMethods,
    Interval,
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils._set_output import _wrap_data_with_container  # noqa: F401
from sklearn.utils.validation import validate_data  # noqa: F401
