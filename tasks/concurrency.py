"""The home's warehouse slot: a Prefect global concurrency limit of 1 per data home.

Two flow runs that publish into the same ``<home>/warehouse.duckdb`` -- two deployments, two
workers, a manual run beside a scheduled one -- take turns: the second waits for the slot,
then runs. (thio.publish also holds a file lock on the home, which serialises writers on
one machine even without a Prefect server.)
"""

from contextlib import AbstractContextManager

from prefect import get_client
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound

from thio.runs import warehouse_key

# A publish that holds the slot longer than this without renewing loses it (Prefect renews
# the lease while the process lives, so only a dead run's slot expires).
LEASE_SECONDS = 600


def warehouse_slot(home: str) -> AbstractContextManager:
    """Hold the home's slot (created on first use) for the duration of the block."""
    name = warehouse_key(home)
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            try:
                client.create_global_concurrency_limit(
                    GlobalConcurrencyLimitCreate(name=name, limit=1)
                )
            except Exception:  # another run created it first
                client.read_global_concurrency_limit_by_name(name)
    return concurrency(name, occupy=1, lease_duration=LEASE_SECONDS, strict=True)
