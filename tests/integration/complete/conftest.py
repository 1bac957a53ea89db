"""The complete-rollback sandbox (a bad deploy in every component) for every test here."""

from tests.harness.sslcache import pki, tls_site  # noqa: F401 - fixtures the sandbox uses
from tests.harness.stack import sandbox  # noqa: F401 - fixture
