"""Tests for redaction._detectors: key classification rules and the value-pattern catalogue."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dihya_logging import Redactor
from dihya_logging.redaction._detectors import (
    CATALOGUE,
    DEFAULT_PATTERNS,
    DEFAULT_SENSITIVE_KEYS,
    READABLE_KEY_COMPOUNDS,
    VENDOR_KEYS,
    WEAK,
    Detector,
    KeyClassifier,
    rule_table,
    split_words,
)
from dihya_logging.redaction._detectors import (
    SENSITIVE as STRONG,
)
from dihya_logging.redaction._scrubber import build_trigger, replacer
from tests.helpers_redaction import POSITIVES, example_of

DOCS = Path(__file__).resolve().parent.parent / "docs" / "redaction.md"

SENSITIVE = [
    "password", "Password", "PASSWORD", "passwd", "pwd", "db_password", "userPassword",
    "passwordHash", "api-key", "apikey", "apiKey", "API_KEY", "X-Api-Key", "x_api_key",
    "client_secret", "clientSecret", "secret", "SECRET_KEY", "Authorization",
    "proxy-authorization", "auth_token", "authToken", "cookie", "Set-Cookie", "cookies",
    "private_key", "privateKey", "PRIVATEKEY", "access_token", "refresh_token", "id_token",
    "token", "csrftoken", "X-CSRF-Token", "session", "sessionid", "session_id", "sessionID",
    "JSESSIONID", "PHPSESSID", "credentials", "credential", "creds", "spec", "raw_spec",
    "rawSpec", "content", "file_content", "fileContents", "contents", "ssn", "credit_card",
    "creditCardNumber", "card_number", "cvv", "cvv2", "otp", "pin", "card_pin", "pin_code",
    "basic_auth", "auth", "db_pass", "aws_secret_access_key", "AWSAccessKeyId", "passphrase",
    "signature", "X-Amz-Signature", "sig", "jwt", "bearer", "social_security_number",
    "signing-key", "encryption.key", "source_code", "SESSIONid", "pAsSwOrD", "rawspec",
    "filecontent", "xApIkEy", "CLIENTsecret", "y" * 5000 + "_token",
    "HEROKU_KEY", "hubspotKey", "cosmosKey", "cloudant_key", "cloudant_pw", "db_pw",
    "2fa_secret", "1password_api_token", "BUNDLE_GEMS__EXAMPLE__COM", "ibm-cloud-key",
]  # fmt: skip
NOT_SENSITIVE = [
    "author", "authors", "tokenizer_name", "tokenizer", "description", "user_id", "project_name",
    "files", "files_count", "stack", "template", "plugins", "status", "error", "message", "event",
    "logger", "level", "timestamp", "key", "keys", "sort_key", "cache_key", "max_tokens",
    "prompt_tokens", "tokens", "content_type", "Content-Type", "content-length",
    "response_content_type", "token_type", "auth_method", "authority", "pin_version",
    "pinned", "spinner", "pass_rate", "bypass", "compass", "passenger", "secretary", "inspect",
    "specialty", "oauth_provider", "seq", "salt", "commit", "link", "tombstone", "exc_info",
    "stack_info", "duration_ms", "request_id", "code", "status_code", "",
    *READABLE_KEY_COMPOUNDS, "primaryKey", "partitionKey", "i18nKey", "password_min_length",
    "session_timeout", "token_count", "JsonWebTokenError", "api_key_length", "secret_type",
    "BUNDLE_PATH", "SONAR_LOGIN", "cloudflare",
]  # fmt: skip


@pytest.mark.parametrize("key", SENSITIVE)
def test_sensitive_keys(key: str) -> None:
    """Each listed key (any case, separator or camelCase) is classified sensitive."""
    assert KeyClassifier().is_sensitive(key), key


@pytest.mark.parametrize("key", NOT_SENSITIVE)
def test_readable_keys(key: str) -> None:
    """Ordinary field names that merely contain a sensitive fragment stay readable."""
    assert not KeyClassifier().is_sensitive(key), key


def test_split_words_handles_case_separators_and_digits() -> None:
    """Keys split on separators, camelCase, acronym boundaries and letter/digit runs."""
    assert split_words("X-Api-Key") == ["x", "api", "key"]
    assert split_words("APIKey") == ["api", "key"]
    assert split_words("sessionID") == ["session", "id"]
    assert split_words("oauth2Token") == ["oauth", "2", "token"]
    assert split_words("a.b c__d") == ["a", "b", "c", "d"]
    assert split_words("--") == []


def test_extra_keys_extend_with_the_same_matching() -> None:
    """Extra key phrases match case/separator-insensitively and the defaults stay active."""
    c = KeyClassifier(["internal_note"])
    assert c.is_sensitive("internalNote") and c.is_sensitive("MY-INTERNAL-NOTE")
    assert c.is_sensitive("internalnote") and c.is_sensitive("password")
    assert not c.is_sensitive("internal") and not KeyClassifier().is_sensitive("internal_note")


def test_every_default_key_phrase_is_sensitive_as_written() -> None:
    """Each shipped key phrase is itself classified sensitive (no dead entries)."""
    c = KeyClassifier()
    assert all(c.is_sensitive(k) for k in DEFAULT_SENSITIVE_KEYS)


def test_weak_keys_are_vendor_names_and_logins() -> None:
    """A vendor's name or a ``*_LOGIN`` key is weak: masked in text only for credential values."""
    c = KeyClassifier(vendors=VENDOR_KEYS)
    assert c.strength("cloudflare") == WEAK and c.strength("SONAR.LOGIN") == WEAK
    assert c.strength("cloudflare_token") == STRONG and c.strength("stack") == 0
    r = Redactor()
    assert r.redact_text("cloudflare: production") == "cloudflare: production"
    assert "Zq9" not in r.redact_text("cloudflare: Zq9Yoyq0zmOyWmPPob1aoY5Y")
    assert r.redact_text("last_login=2026-11-23") == "last_login=2026-11-23"


def test_catalogue_entries_are_documented_and_unique() -> None:
    """Every entry names its vendor, an example of its format and a reference; names unique."""
    assert all(d.vendor and d.example and d.reference for d in CATALOGUE)
    assert len({d.name for d in CATALOGUE}) == len(CATALOGUE)


def test_docs_rule_table_is_built_from_the_catalogue() -> None:
    """docs/redaction.md holds the catalogue's rule table verbatim (regenerate it on change)."""
    assert rule_table() in DOCS.read_text(encoding="utf-8")


@pytest.mark.parametrize("detector", CATALOGUE, ids=lambda d: d.name)
def test_catalogue_example_is_masked_by_its_rule(detector: Detector) -> None:
    """Each entry's example (five random draws) is masked by the entry alone and the cheap
    trigger (literals or anchor) flags it, so the combined scan cannot skip it."""
    anchors = [detector.anchor] if detector.anchor else []
    literals = [] if anchors else [(x, detector.ignore_case) for x in detector.literals]
    rx, trigger = detector.compile(), build_trigger(literals, anchors)
    for seed in range(5):
        text, secret = example_of(detector, seed)
        assert trigger.search(text[::-1]) is not None, (detector.name, text)
        hay = text.lower() if detector.ignore_case else text
        assert not detector.literals or any(
            (x.lower() if detector.ignore_case else x) in hay for x in detector.literals
        ), (detector.name, text)
        out = rx.sub(replacer(detector.group, "[M]"), text)
        assert secret not in out and "[M]" in out, (detector.name, text, out)


@pytest.mark.parametrize("detector", CATALOGUE, ids=lambda d: d.name)
def test_catalogue_example_is_masked_in_an_error_message(detector: Detector) -> None:
    """The whole redactor masks each example inside a sentence, leaving no 8-char piece."""
    text, secret = example_of(detector, 7)
    out = Redactor().redact_text(f"deploy failed ({text}); retrying")
    assert all(secret[i : i + 8] not in out for i in range(len(secret) - 7)), out


@pytest.mark.parametrize("detector", [d for d in DEFAULT_PATTERNS if d.name in POSITIVES],
                         ids=lambda d: d.name)  # fmt: skip
def test_detector_masks_its_own_samples(detector: Detector) -> None:
    """Each detector alone masks the secret of its samples, which contain one of its literals."""
    rx = detector.compile()
    for text, secret in POSITIVES[detector.name]:
        hay = text.lower() if detector.ignore_case else text
        literals = [x.lower() if detector.ignore_case else x for x in detector.literals]
        assert any(x in hay for x in literals), (detector.name, text)
        out = rx.sub(replacer(detector.group, "[M]"), text)
        assert secret not in out and "[M]" in out, (detector.name, text, out)


@pytest.mark.parametrize("detector", [d for d in DEFAULT_PATTERNS if d.name in POSITIVES],
                         ids=lambda d: d.name)  # fmt: skip
def test_detector_literals_are_necessary(detector: Detector) -> None:
    """A match can never avoid the literals: removing them from a sample removes the match."""
    rx = detector.compile()
    for text, _ in POSITIVES[detector.name]:
        stripped = text
        for lit in detector.literals:
            flags = re.IGNORECASE if detector.ignore_case else 0
            stripped = re.sub(re.escape(lit), "#", stripped, flags=flags)
        assert rx.search(stripped) is None, (detector.name, stripped)


def test_group_masking_keeps_the_context() -> None:
    """Detectors with a group keep scheme, user and host around a masked URL password."""
    url = next(d for d in DEFAULT_PATTERNS if d.name == "url-credentials")  # keeps the context
    out = url.compile().sub(replacer(url.group, "[M]"), "mysql://root:pw1@db:3306/x")
    assert out == "mysql://root:[M]@db:3306/x"


def test_aws_and_vendor_rules_ignore_lookalikes() -> None:
    """Prefixes without the documented length or alphabet do not match."""
    text = "AKIA1234 ghp_tooShort sk_live_x hf_abc xoxb- AIzaShort npm_123 SG.x.y glpat-x"
    assert all(d.compile().search(text) is None for d in DEFAULT_PATTERNS), [
        d.name for d in DEFAULT_PATTERNS if d.compile().search(text)
    ]
