"""pywf: pyworkflow's API (``import pywf as wf``) on wf, Sogou C++ Workflow
rebuilt in Rust.

Tasks, series and parallels; HTTP tasks and servers; timers, counters, go
tasks. A task, series, request or response may only be used in its own
callback (or before it is started); a later use raises
``InvalidHandleError``.
"""

from ._pywf import *  # noqa: F401,F403
from ._pywf import __doc__ as _native_doc  # noqa: F401
