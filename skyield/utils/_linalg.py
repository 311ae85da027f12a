"""Matrix square roots of covariance matrices, in one place."""

import numpy as np

__all__ = ["covariance_factor"]


def covariance_factor(covariance):
    """A matrix ``F`` with ``F @ F.T == covariance``, also for a singular covariance.

    The eigen-decomposition of the symmetrised matrix, ``V sqrt(L)``, with eigenvalues
    below zero (rounding of a positive semi-definite matrix) taken as zero. Cholesky
    would fail on a singular matrix, such as the covariance of fewer shocks than
    series. The input is not checked: user input goes through
    :func:`skyield.utils.check_covariance` first.

    Parameters
    ----------
    covariance : array-like of shape (n, n)

    Returns
    -------
    factor : ndarray of shape (n, n)

    Examples
    --------
    >>> import numpy as np
    >>> from skyield.utils import covariance_factor
    >>> cov = np.array([[1.0, 1.0], [1.0, 1.0]])          # singular
    >>> factor = covariance_factor(cov)
    >>> bool(np.allclose(factor @ factor.T, cov))
    True
    """
    cov = np.asarray(covariance, dtype=float)
    eigenvalues, eigenvectors = np.linalg.eigh(0.5 * (cov + cov.T))
    return eigenvectors * np.sqrt(np.clip(eigenvalues, 0.0, None))
