"""An independent SMTP server for smarthost's client interoperability test.

aiosmtpd (PyPI) on a loopback port it picks, recording every message it
accepts as DIR/N.eml (the content as received, dot-stuffing undone) and
DIR/N.json (envelope, parameters, whether TLS was on). Usage:

    python3 client_aiosmtpd.py DIR [CERT KEY]

With CERT and KEY it offers STARTTLS and requires it before MAIL. It prints
the port once it listens, then serves until its standard input closes (the
test holds it open), so it never outlives the test.
"""

import json
import os
import socket
import ssl
import sys

from aiosmtpd.controller import Controller


class Recorder:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        base = os.path.join(self.directory, str(self.count))
        with open(base + ".eml", "wb") as f:
            f.write(envelope.original_content)
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "rcpt_options": envelope.rcpt_options,
            "tls": session.ssl is not None,
        }
        with open(base + ".json.tmp", "w") as f:
            json.dump(meta, f)
        os.rename(base + ".json.tmp", base + ".json")
        return "250 2.0.0 Ok: queued as %d" % self.count


def main():
    directory = sys.argv[1]
    tls = {}
    if len(sys.argv) >= 4:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(sys.argv[2], sys.argv[3])
        tls = {"tls_context": context, "require_starttls": True}
    # aiosmtpd's Controller needs a concrete port: take a free one.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(
        Recorder(directory), hostname="127.0.0.1", port=port, decode_data=False, **tls
    )
    controller.start()
    print(port, flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
