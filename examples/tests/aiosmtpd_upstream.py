"""An independent smart host for smarthost's end-to-end test: aiosmtpd
(PyPI) that requires STARTTLS and AUTH (PLAIN/LOGIN over TLS only) and
writes each message it accepts to a file. Usage:

    python3 aiosmtpd_upstream.py CERT KEY USER PASSWORD OUTDIR

It prints its port once it listens and serves until standard input closes,
so it never outlives the test. Each message becomes OUTDIR/N.eml holding
`MAIL FROM:<...>`, `RCPT TO:<...>` lines, `AUTH:login`, a blank line, and the
content exactly as received.
"""

import os
import socket
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Store:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        lines = [f"MAIL FROM:<{envelope.mail_from}>"]
        lines += [f"RCPT TO:<{rcpt}>" for rcpt in envelope.rcpt_tos]
        login = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else ""
        lines.append(f"AUTH:{login}")
        head = ("\n".join(lines) + "\n\n").encode()
        path = os.path.join(self.outdir, f"{self.count}.eml")
        with open(path + ".tmp", "wb") as out:
            out.write(head + envelope.original_content)
        os.rename(path + ".tmp", path)
        return "250 2.0.0 Ok: stored"


def main():
    cert, key, user, password, outdir = sys.argv[1:6]
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == user.encode()
            and auth_data.password == password.encode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data)

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Store(outdir),
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    print(port, flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
