"""Python's smtplib as an independent client of the smarthost server.

Usage: smtplib_client.py HOST PORT CAFILE USER PASSWORD

Three connections: AUTH PLAIN, AUTH LOGIN and smtplib's own choice
(login()), each after STARTTLS, each sending one message. Before TLS, AUTH
must be neither offered nor accepted. Prints OK on success; any failed
check raises and exits non-zero.
"""

import base64
import smtplib
import ssl
import sys

host, port, cafile, user, password = sys.argv[1:6]
port = int(port)
context = ssl.create_default_context(cafile=cafile)


def message(mechanism):
    return (
        f"From: Alice <{user}@example.com>\r\n"
        f"To: Bob <bob@example.org>\r\n"
        f"Subject: smtplib {mechanism}\r\n"
        "\r\n"
        f"Sent by Python smtplib after AUTH {mechanism}.\r\n"
        ".leading dot\r\n"
    )


def session(mechanism):
    with smtplib.SMTP(host, port, local_hostname="client.example", timeout=10) as smtp:
        code, _ = smtp.ehlo()
        assert code == 250, code
        assert smtp.has_extn("starttls"), smtp.esmtp_features
        assert not smtp.has_extn("auth"), f"AUTH offered before TLS: {smtp.esmtp_features}"
        plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
        code, text = smtp.docmd("AUTH", f"PLAIN {plain}")
        assert code == 538, (code, text)
        smtp.starttls(context=context)
        code, _ = smtp.ehlo()
        assert code == 250, code
        assert smtp.has_extn("auth"), smtp.esmtp_features
        assert not smtp.has_extn("starttls"), smtp.esmtp_features
        if mechanism == "PLAIN":
            smtp.user, smtp.password = user, password
            code, text = smtp.auth("PLAIN", smtp.auth_plain)
        elif mechanism == "LOGIN":
            smtp.user, smtp.password = user, password
            code, text = smtp.auth("LOGIN", smtp.auth_login, initial_response_ok=False)
        else:
            code, text = smtp.login(user, password)
        assert code == 235, (code, text)
        code, text = smtp.docmd("AUTH", "PLAIN")
        assert code == 503, (code, text)
        refused = smtp.sendmail(f"{user}@example.com", ["bob@example.org"], message(mechanism))
        assert refused == {}, refused


for mechanism in ["PLAIN", "LOGIN", "default"]:
    session(mechanism)

# A wrong password is refused with 535.
with smtplib.SMTP(host, port, local_hostname="client.example", timeout=10) as smtp:
    smtp.starttls(context=context)
    try:
        smtp.login(user, "wrong")
    except smtplib.SMTPAuthenticationError as error:
        assert error.smtp_code == 535, error
    else:
        raise AssertionError("a wrong password was accepted")

print("OK")
