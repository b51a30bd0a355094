"""Hypothesis profiles for the fuzz suite: "ci" (small, the default) and "nightly" (large).

``HYPOTHESIS_PROFILE=nightly`` (``make fuzz``) selects the large one. The profiles
apply to the fuzz tests only, through :data:`FUZZ`, so loading one never changes
the example budget of the other property tests. No deadline: the machine is shared
and an ingest's time varies with its load, not with the example.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

# One estate serves every example of a test (a new dataset name each), which is
# what the function-scoped fixture check warns about; examples build whole files.
_SHARED = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
}
settings.register_profile("ci", max_examples=12, **_SHARED)
settings.register_profile("nightly", max_examples=2000, **_SHARED)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
if PROFILE not in ("ci", "nightly"):
    PROFILE = "ci"
#: Decorator for every fuzz test.
FUZZ = settings.get_profile(PROFILE)
