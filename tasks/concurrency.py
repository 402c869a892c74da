"""The home's warehouse slot: the file lock decides, a Prefect limit shows it.

Two flow runs that publish into the same ``<home>/warehouse.duckdb`` -- two deployments, two
workers, a manual run beside a scheduled one -- take turns on the home's file lock
(thio.lock): the kernel drops it when its holder dies, so no killed run can wedge the home,
and a waiting run logs whom it waits for and gives up after a bounded time.

Holding the lock, the run also takes the Prefect global concurrency limit
``thio-warehouse-<hash of the home>`` (one slot) so that the UI shows the warehouse busy.
That slot is a courtesy: a run killed while holding it leaves it taken (the temporary
server of ``thio run`` never expires a lease), so a slot still taken when the lock is ours
can only be a dead run's, and it is given back before it is taken again.
"""

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from prefect import get_client, get_run_logger
from prefect.client.schemas.actions import (
    GlobalConcurrencyLimitCreate,
    GlobalConcurrencyLimitUpdate,
)
from prefect.concurrency.sync import concurrency
from prefect.exceptions import ObjectNotFound

from thio.lock import writer_lock
from thio.runs import warehouse_key

# The slot's lease: Prefect renews it while the holder lives.
LEASE_SECONDS = 600
# Holding the file lock, a slot not free within this time is a dead run's.
STALE_SLOT_SECONDS = 5


def _ensure_limit(name: str) -> None:
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


def _free_stale_slot(name: str) -> None:
    with get_client(sync_client=True) as client:
        client.update_global_concurrency_limit(name, GlobalConcurrencyLimitUpdate(active_slots=0))


def _slot(name: str, timeout_seconds: float | None):
    # a courtesy: a lease that cannot be renewed (the slot freed as stale, a server
    # restart) must not stop a run that holds the file lock
    return concurrency(
        name,
        occupy=1,
        timeout_seconds=timeout_seconds,
        lease_duration=LEASE_SECONDS,
        raise_on_lease_renewal_failure=False,
    )


@contextmanager
def warehouse_slot(home: str, run_id: str | None = None) -> Iterator[None]:
    """Hold the home's file lock, then its Prefect slot, for the duration of the block."""
    logger = get_run_logger()
    with writer_lock(Path(home), holder=run_id, on_wait=logger.warning), ExitStack() as held:
        name = warehouse_key(home)
        _ensure_limit(name)
        try:
            held.enter_context(_slot(name, STALE_SLOT_SECONDS))
        except TimeoutError:
            logger.warning("warehouse slot %s was held by a run that is gone; freed", name)
            _free_stale_slot(name)
            held.enter_context(_slot(name, STALE_SLOT_SECONDS))
        yield
