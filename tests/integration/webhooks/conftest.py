"""Stand-in providers (Stripe, Square, a generic REST API, Slack, a signed-webhook receiver) and an SMTP sink."""

from __future__ import annotations

import pytest

from tests.harness.providers import (
    GENERIC_KEY,
    HMAC_SECRET,
    SLACK_TOKEN,
    SMTP_PASSWORD,
    SQUARE_TOKEN,
    STRIPE_KEY,
    GenericStandIn,
    SignedReceiver,
    SlackStandIn,
    SquareStandIn,
    StripeStandIn,
)
from tests.harness.smtp import SmtpSink


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
