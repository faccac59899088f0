"""The dataflow ``python -m bytewax.run flows.pipeline`` runs.

``SLUICE_PIPELINE`` names a pipeline file and ``SLUICE_CONNECTIONS`` a registry file; with
neither set, the sample pipeline ``examples/solar.json`` runs, needing no server.
SIGTERM and SIGINT stop it cleanly (``runtime.stop``).
``sluice serve`` also sets ``SLUICE_SAMPLE_DIR``, where the flow writes live samples while one is
open, and ``SLUICE_FLOW_ID``, the processor's id, so checkpoints survive a rename.
Under recovery (``-r``), a source with no checkpoint begins where the first run began
(``runtime.start``), so a restart before the first checkpoint misses nothing.
"""

import os
from pathlib import Path

from runtime import stop

stop.install()  # first: a signal during the imports below must already stop cleanly

from runtime.redaction import install_log_redaction  # noqa: E402
from runtime.start import first_start, recovery_directory  # noqa: E402
from instance.sample import SampleTap  # noqa: E402
from translator import translate  # noqa: E402
from translator.connections import load_registry  # noqa: E402
from translator.parse import load_pipeline  # noqa: E402

DEFAULT_PIPELINE = Path(__file__).resolve().parent.parent / "examples" / "solar.json"

install_log_redaction()

_connections = os.environ.get("SLUICE_CONNECTIONS")
_samples = os.environ.get("SLUICE_SAMPLE_DIR")
_recovery = recovery_directory()
flow = translate(
    load_pipeline(os.environ.get("SLUICE_PIPELINE") or str(DEFAULT_PIPELINE)),
    load_registry(_connections) if _connections else None,
    tap=SampleTap(_samples) if _samples else None,
    flow_id=os.environ.get("SLUICE_FLOW_ID"),
    start_at=first_start(_recovery) if _recovery is not None else None,
).flow
