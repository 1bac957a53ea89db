"""A local SMTP sink (aiosmtpd) on a free loopback port that keeps every message it receives."""

from __future__ import annotations

import email
import email.policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.harness.services import free_port


class _Handler:
    def __init__(self, sink):
        self.sink = sink

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd hook name
        self.sink.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "message": email.message_from_bytes(envelope.content, policy=email.policy.default),
                "login": session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None,
            }
        )
        return "250 Message accepted for delivery"


class SmtpSink:
    """Accepts mail (and AUTH LOGIN/PLAIN with `password` when given) without TLS, for tests only."""

    def __init__(self, user="rollback", password=None):
        self.user = user
        self.password = password
        self.messages = []
        self.port = free_port()
        kwargs = {}
        if password is not None:
            kwargs = {"authenticator": self._authenticate, "auth_require_tls": False}
        self.controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.user
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()
