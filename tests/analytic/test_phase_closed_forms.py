"""The closed forms of both phase diagrams (analytic.two_in_one, analytic.three_in_two) against
independent evaluations of the expected loss: exact quadrature and Monte Carlo (tests/analytic/
helpers.py), and the exact sparsity-pattern expansion of `analytic.relu_output`.

Each test runs once per diagram; the 3-in-2 quadrature (four 3-D integrals per example, ~1.5 s an
example) is marked slow — by default 3-in-2 is checked against Monte Carlo and the exact expansion.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytic import relu_output, three_in_two, two_in_one
from tests.analytic.helpers import monte_carlo_loss, quadrature_loss

FAST = settings(deadline=None, max_examples=6, derandomize=True)
ratios = st.floats(-1.0, 1.0).map(lambda t: 10.0**t)  # r ∈ [0.1, 10], log-uniform
densities = st.floats(0.01, 1.0)
DIAGRAMS = [pytest.param(two_in_one, id="two_in_one"), pytest.param(three_in_two, id="three_in_two")]


@pytest.mark.parametrize(
    "diagram", [DIAGRAMS[0], pytest.param(three_in_two, id="three_in_two", marks=pytest.mark.slow)]
)
@FAST
@given(r=ratios, p=densities)
def test_closed_forms_match_quadrature(diagram, r, p):
    closed = diagram.losses(r, p)
    for name, (W, b) in diagram.solutions(r, p).items():
        exact = quadrature_loss(W, b, diagram.importance(r), p)
        assert exact == pytest.approx(closed[name], rel=1e-9, abs=1e-12), name


@pytest.mark.parametrize("diagram", DIAGRAMS)
@settings(deadline=None, max_examples=4, derandomize=True)  # 200k samples per solution and example
@given(r=ratios, p=densities, seed=st.integers(0, 2**16))
def test_closed_forms_match_monte_carlo(diagram, r, p, seed):
    closed = diagram.losses(r, p)
    for name, (W, b) in diagram.solutions(r, p).items():
        mean, se = monte_carlo_loss(W, b, diagram.importance(r), p, seed=seed)
        assert abs(mean - closed[name]) <= 5 * se + 1e-12, name


@pytest.mark.parametrize("diagram", DIAGRAMS)
@FAST
@given(r=ratios, p=densities)
def test_closed_forms_match_exact_expected_loss(diagram, r, p):
    closed = diagram.losses(r, p)
    for name, (W, b) in diagram.solutions(r, p).items():
        exact = relu_output.expected_loss(W, b, diagram.importance(r), 1.0 - p)
        assert exact == pytest.approx(closed[name], rel=1e-9, abs=1e-12), name
