"""How much of a hard cap a run can never spend, so plans leave it out.

A run's ledger reserves every LLM call's and sandbox exec's worst case before it starts and
refuses one that could cross the cap (docs/budget.md, "Hard caps in a run"). With ``in_flight``
of them running at once, the last ``in_flight`` worst cases of the cap stay unspendable; a plan
for ``B`` dollars of expected spend therefore runs under a cap of ``B + cap_reserve(...)``.
"""

from __future__ import annotations


def cap_reserve(
    *,
    in_flight: int,
    max_sample_usd: float,
    sandbox_cpu_hour_usd: float | None,
    exec_cpus: float,
    exec_worst_s: float,
) -> float:
    """Worst-case dollars held by ``in_flight`` samples and as many sandbox execs at once.

    ``exec_worst_s`` is the longest exec a sample reserves (its timeout plus the meter's kill
    grace); ``sandbox_cpu_hour_usd`` None means sandbox time is not charged.
    """
    sandbox = 0.0
    if sandbox_cpu_hour_usd is not None:
        sandbox = exec_cpus * exec_worst_s * sandbox_cpu_hour_usd / 3600.0
    return in_flight * (max_sample_usd + sandbox)
