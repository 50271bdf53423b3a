"""Fake secrets for the redaction tests, built at run time so no token literal sits in the tree.

`POSITIVES` maps a detector name to texts that contain one secret each, paired with the secret
itself (what must vanish). `NEGATIVES` are false-positive traps that must come back unchanged.
"""

from __future__ import annotations

import base64
import json
import random
from typing import Any

from dihya_logging.redaction._detectors import Detector, expand_example

A36 = "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
HEX32 = "0123456789abcdef" * 2
HEX64 = HEX32 * 2


def _b64url(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


JWT = ".".join(
    (_b64url({"alg": "HS256", "typ": "JWT"}), _b64url({"sub": "42"}), "SflKxwRJSMeKKF2Q")
)
PEM_BODY = "MIIEowIBAAKCAQEA" + "q" * 64
PEM = "-----BEGIN RSA PRIVATE KEY-----\n" + PEM_BODY + "\n-----END RSA PRIVATE KEY-----"

# (text, secret that must not survive)
POSITIVES: dict[str, list[tuple[str, str]]] = {
    "pem-private-key": [
        (f"key loaded: {PEM} done", PEM_BODY),
        ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjE\n", "b3BlbnNzaC1rZXktdjE"),
        ("-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF0\n-----END PGP PRIVATE KEY BLOCK-----",
         "lQOYBF0"),
        ('{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQ\\n-----END PRIVATE KEY-----\\n"}',
         "MIIEvQ"),
    ],
    "der-private-key-body": [("blob MIIBOgIBAAJBAK" + "x" * 64 + "== end", "x" * 64)],
    "jwt": [(f"token {JWT} expired", JWT), (f"id_token={JWT}", JWT.split(".")[1])],
    "url-credentials": [
        ("postgres://admin:s3cr3tPW@db.internal:5432/app", "s3cr3tPW"),
        ("redis://:onlyPassw0rd@cache:6379/0", "onlyPassw0rd"),
        ("fetch https://bob:p@ss@w0rd@example.com/x", "p@ss@w0rd"),
    ],
    "slack-webhook": [
        ("https://hooks.slack.com/services/T0ABCDEF/B0ABCDEF/" + A36[:24], A36[:24])
    ],
    "discord-webhook": [("https://discord.com/api/webhooks/123456/" + A36, A36)],
    "github-token": [
        (f"{p}_{A36}", A36) for p in ("ghp", "gho", "ghu", "ghs", "ghr")
    ] + [("github_pat_11ABCDEFG0" + A36 + "_" + A36, A36)],
    "gitlab-token": [("glpat-" + A36[:20], A36[:20]), ("GR1348941" + A36[:20], A36[:20])],
    "aws-access-key-id": [("id=AKIAIOSFODNN7ABCDEFG.", "IOSFODNN7ABCDEFG"),
                          ("ASIAZZZZ2345ABCDEFGH", "ZZZZ2345ABCDEFGH")],
    "slack-token": [("xoxb-123456789012-1234567890123-" + A36[:24], A36[:24]),
                    ("xapp-1-A0123456789-" + HEX32, HEX32)],
    "stripe-key": [("sk_live_" + A36[:24], A36[:24]), ("rk_test_" + A36[:24], A36[:24]),
                   ("whsec_" + A36, A36)],
    "google-credential": [("AIza" + A36[:35], A36[:35]), ("GOCSPX-" + A36[:28], A36[:28]),
                          ("ya29." + A36, A36)],
    "openai-anthropic-key": [("sk-proj-" + A36 + A36, A36 + A36),
                             ("sk-" + A36[:20] + "T3BlbkFJ" + A36[:20], A36[:20]),
                             ("sk-ant-api03-" + A36 + "AA", A36)],
    "huggingface-token": [("hf_" + "abcdefghijklmnopqrstuvwxyzABCDEFGH", "tuvwxyzABCDEFGH")],
    "npm-token": [("npm_" + A36, A36)],
    "pypi-token": [("pypi-AgEIcHlwaS5vcmc" + A36 * 2, A36)],
    "sendgrid-key": [("SG." + A36[:22] + "." + A36 + A36[:7], A36[:22])],
    "digitalocean-token": [("dop_v1_" + HEX64, HEX64)],
    "shopify-token": [("shpat_" + HEX32, HEX32)],
    "vault-token": [("hvs." + A36, A36)],
    "linear-key": [("lin_api_" + A36 + "abcd", A36)],
    "postman-key": [("PMAK-" + HEX32[:24] + "-" + HEX32 + "ab", HEX32[:24])],
    "telegram-bot-token": [("bot 123456789:AA" + A36[:33], A36[:33])],
    "age-secret-key": [
        ("AGE-SECRET-KEY-1" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" * 2, "QPZRY9X8GF2T")
    ],
    "square-token": [("sq0atp-" + A36[:22], A36[:22])],
    "atlassian-token": [("ATATT3" + A36 * 3, A36)],
    "bearer": [("curl -H 'Authorization: Bearer abc.DEF-123_xyz'", "abc.DEF-123_xyz"),
               ("sent bearer Zm9vYmFyYmF6MTIz to api", "Zm9vYmFyYmF6MTIz")],
    "basic-auth": [("header Basic dXNlcjpwYXNzd29yZA== sent", "dXNlcjpwYXNzd29yZA")],
    "cookie-header": [("Cookie: sessionid=abc123; csrftoken=def456\nHost: x", "def456"),
                      ("Set-Cookie: sid=31d4d96e407aad42; Path=/; HttpOnly", "31d4d96e407aad42")],
    "key-value": [
        ("login with password=hunter2 failed", "hunter2"),
        ('{"password": "correct horse battery", "user": "bob"}', "correct horse battery"),
        ("{'api_key': 'k-12345', 'n': 1}", "k-12345"),
        ("token: abcdef123", "abcdef123"),
        ("GET /cb?code=x&access_token=tok987&state=1", "tok987"),
        ("X-Api-Key: key-abcdef", "key-abcdef"),
        ("export GITHUB_TOKEN=plainvalue42", "plainvalue42"),
        ('db_password := "pw 42"', "pw 42"),
        ("secret => 'ruby-secret'", "ruby-secret"),
        ('payload {\\"password\\": \\"esc4ped pw\\"}', "esc4ped pw"),
        ("aws_secret_access_key = wJalrXUtnFEMIK7MDENGbPxRfiCYzzKEY", "wJalrXUtnFEMIK7MDENG"),
        ("client_secret=cs-9f8e7d&grant_type=x", "cs-9f8e7d"),
        ("Authorization: Digest abc123def", "abc123def"),
        ("--password=cli-pw-1", "cli-pw-1"),
        ("AccountKey=Zm9vYmFy+Kz/9==;EndpointSuffix=core", "Zm9vYmFy+Kz/9=="),
        ("https://x.blob.core.windows.net/c?sv=1&sig=AbC%2Bdef123", "AbC%2Bdef123"),
        ("passwd:letmein", "letmein"),
        ("userPassword = 'p w'", "p w"),
    ],
}  # fmt: skip

NEGATIVES = [
    "README.md", "backend/app.py", "frontend/App.js", "frontend/src/components/TokenList.tsx",
    "backend/routes/auth.py", "requests/sessions.py", "docs/secrets-management.md",
    "550e8400-e29b-41d4-a716-446655440000", "user_123", "usr-7f3a9c2e", "Blog Amazigh",
    "The token was rejected", "Please enter your password", "Invalid token.",
    "tokenizer_name: bert-base-uncased", "author: Jane Doe", "Bearer of bad news",
    "bearer token required", "basic template", "Basic authentication is disabled",
    "https://example.com/path?page=2&sort=asc", "http://localhost:8000/api",
    "git@github.com:o/r.git",
    "user@example.com", "Asia/Tokyo", "task-runner", "sk-learn", "ghp_short", "AKIA", "eyJ",
    "Content-Type: application/json", "content-length: 42", "max_tokens=1000",
    "prompt_tokens: 512", "description: a secret garden", "2026-11-23T12:34:56.789Z",
    "e-commerce", "The cookie jar is empty", "key=value", "status: success", "error: timeout",
    "session timeout after 30s", "MIIshort", "sha256=9f86d081884c7d65", "pass_rate: 0.97",
    "auth_method: oauth", "token_type=bearer", "spin=3", "See section 4: Security.",
    "https://hooks.slack.com/ docs", "sq0 and hvs. and PMAK- alone", "dear reader: hello",
]  # fmt: skip


def example_of(detector: Detector, seed: int = 0) -> tuple[str, str]:
    """(text, secret) of a catalogue entry's example, its random runs drawn with `seed`."""
    rng = random.Random(f"{detector.name}:{seed}")
    return expand_example(
        detector.example, lambda alphabet, n: "".join(rng.choice(alphabet) for _ in range(n))
    )


def container_ids(obj: Any) -> set[int]:
    """Ids of every dict, list, tuple and set inside `obj` (acyclic)."""
    if isinstance(obj, dict):
        return {id(obj)}.union(*map(container_ids, obj.values()))
    if isinstance(obj, (list, tuple, set, frozenset)):
        return {id(obj)}.union(*map(container_ids, obj))
    return set()


def json_native(obj: Any) -> bool:
    """True when `obj` is made only of dict (str keys), list, str, int, float, bool, None."""
    if type(obj) is dict:
        return all(type(k) is str and json_native(v) for k, v in obj.items())
    if type(obj) is list:
        return all(map(json_native, obj))
    return obj is None or type(obj) in (str, int, float, bool)


class Sub(str):
    """A plain str subclass."""


class Mimic(str):
    """A str subclass hashing and comparing like the clean "README.md" whatever it holds."""

    def __hash__(self) -> int:
        return hash("README.md")

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False
