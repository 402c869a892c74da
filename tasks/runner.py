"""The task runner of the survey-round flow: threads, or a Dask cluster when configured.

``THIO_DASK_ADDRESS`` (e.g. ``tcp://scheduler:8786``; ``thio run --dask ADDRESS`` sets it)
sends the per-file ingest tasks to that Dask cluster through prefect-dask; otherwise they
run on a pool of threads in the flow's process. The DuckDB work (compute, publish) is one
task either way: a single writer.
"""

import os

from prefect.task_runners import ThreadPoolTaskRunner

DASK_ADDRESS_VARIABLE = "THIO_DASK_ADDRESS"
# files are read by calamine / pyarrow outside the GIL, so a few threads overlap well
FILE_THREADS = 4


def task_runner():
    """The configured task runner (read when the flow module is imported)."""
    address = os.environ.get(DASK_ADDRESS_VARIABLE)
    if address:
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=address)
    return ThreadPoolTaskRunner(max_workers=FILE_THREADS)
