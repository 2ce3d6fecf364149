"""Settings for the test suite: the real settings, read with a throwaway data folder."""

import os
import tempfile

os.environ.setdefault("CIVICLOOP_DATA_DIR", tempfile.mkdtemp(prefix="civicloop-test-"))

from civicloop import settings as _real

globals().update({name: getattr(_real, name) for name in dir(_real) if name.isupper()})
