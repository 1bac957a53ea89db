"""Stand-in providers (Stripe, Square, a generic REST API, Slack, a signed-webhook receiver) and an SMTP sink."""

from __future__ import annotations

import pytest

from tests.harness.providers import GenericStandIn, SignedReceiver, SlackStandIn, SquareStandIn, StripeStandIn
from tests.harness.smtp import SmtpSink

# Recognisable fake credentials: the secret tests grep every output for them.
STRIPE_KEY = "sk_test_51RollbackSecretStripeKey0000"
SQUARE_TOKEN = "EAAAlRollbackSecretSquareToken0000"
GENERIC_KEY = "generic-api-key-RollbackSecret0000"
HMAC_SECRET = "whsec_RollbackHmacSharedSecret0000"
SMTP_PASSWORD = "smtp-RollbackSecretPassword0000"
SLACK_TOKEN = "xoxbRollbackSlackUrlToken0000"


def _started(server):
    server.start()
    return server


@pytest.fixture
def stripe():
    server = _started(StripeStandIn(STRIPE_KEY))
    yield server
    server.stop()


@pytest.fixture
def square():
    server = _started(SquareStandIn(SQUARE_TOKEN, page_size=2))
    yield server
    server.stop()


@pytest.fixture
def generic_api():
    server = _started(GenericStandIn(GENERIC_KEY))
    yield server
    server.stop()


@pytest.fixture
def slack():
    server = _started(SlackStandIn(path="/services/T0ROLLBACK/B0ROLLBACK/%s" % SLACK_TOKEN))
    yield server
    server.stop()


@pytest.fixture
def signed_receiver():
    server = _started(SignedReceiver(HMAC_SECRET))
    yield server
    server.stop()


@pytest.fixture
def smtp_sink():
    sink = SmtpSink(password=SMTP_PASSWORD).start()
    yield sink
    sink.stop()
