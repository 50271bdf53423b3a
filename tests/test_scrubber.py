"""Tests for redaction._scrubber: secrets inside text, the anchored trigger, the clean memo."""

from __future__ import annotations

import json
import re

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dihya_logging import Redactor
from dihya_logging.redaction import DEFAULT_PATTERNS, Detector
from dihya_logging.redaction._scrubber import TextScrubber, build_trigger
from tests.helpers_redaction import NEGATIVES, POSITIVES

CASES = [(name, text, secret) for name, cases in POSITIVES.items() for text, secret in cases]
MASK = "[REDACTED]"


def scrubber(cache_size: int = 4096) -> TextScrubber:
    """A scrubber with the default detectors and the default key rules."""
    return TextScrubber(DEFAULT_PATTERNS, [], MASK, Redactor().is_sensitive_key, cache_size)


@pytest.mark.parametrize(("name", "text", "secret"), CASES, ids=[c[0] for c in CASES])
def test_secret_in_text_is_masked(name: str, text: str, secret: str) -> None:
    """Every sample secret disappears from the text and the mask takes its place."""
    out = Redactor().redact_text(text)
    assert secret not in out and MASK in out, out


@pytest.mark.parametrize(("name", "text", "secret"), CASES, ids=[c[0] for c in CASES])
def test_trigger_fires_on_every_sample(name: str, text: str, secret: str) -> None:
    """The cheap check flags every secret-bearing text (else the batch path would skip it)."""
    assert scrubber().dirty(text)


@pytest.mark.parametrize(("name", "text", "secret"), CASES, ids=[c[0] for c in CASES])
def test_scrubbing_is_idempotent(name: str, text: str, secret: str) -> None:
    """Scrubbing already scrubbed text changes nothing (masks are not masked again)."""
    r = Redactor()
    once = r.redact_text(text)
    assert r.redact_text(once) == once


@pytest.mark.parametrize("text", NEGATIVES)
def test_false_positive_traps_come_back_as_the_same_object(text: str) -> None:
    """Paths, ids, prose and near-miss prefixes are not touched, not even copied."""
    assert Redactor().redact_text(text) is text


def test_pairs_keep_keys_schemes_and_neighbours() -> None:
    """Only the value is masked; key, quotes, HTTP scheme and other pairs stay readable."""
    r = Redactor()
    assert r.redact_text("user=bob&password=x1&lang=ber") == f"user=bob&password={MASK}&lang=ber"
    assert r.redact_text('{"token": "a b", "ok": true}') == f'{{"token": "{MASK}", "ok": true}}'
    assert r.redact_text("Authorization: Bearer zz9.yy8") == f"Authorization: Bearer {MASK}"
    assert r.redact_text("filter=password=abc") == f"filter=password={MASK}"
    assert r.redact_text("error: token=abc") == f"error: token={MASK}"


def test_auth_and_cookie_pairs_mask_the_whole_header_value() -> None:
    """Whatever the scheme, the credential of an auth header is masked; known schemes stay."""
    r = Redactor()
    assert r.redact_text("Authorization: Custom abc def, next") == f"Authorization: {MASK}, next"
    assert r.redact_text("Authorization: Token Zq9abc") == f"Authorization: Token {MASK}"
    assert r.redact_text("X-Auth: sso-key a:b") == f"X-Auth: sso-key {MASK}"
    assert r.redact_text("set_cookie=sid=1; path=/") == f"set_cookie={MASK}; path=/"


def test_very_long_identifier_before_separator_is_still_judged() -> None:
    """The key of a pair is found however long it is."""
    out = Redactor().redact_text("x" * 300 + "_password=abc")
    assert out.endswith(f"_password={MASK}")


def test_big_batches_keep_their_short_strings_in_the_memo() -> None:
    """A batch over 8 KiB still memoises its short strings, not its long ones."""
    s = scrubber()
    short, long = [f"file{i}.py" for i in range(2000)], "y" * 5000
    s.remember([*short, long], sum(map(len, short)) + len(long))
    assert set(short) <= s.memo and long not in s.memo


def test_sensitive_key_before_separator_masks_next_word_even_in_prose() -> None:
    """Documented conservative choice: 'password: <word>' masks the word, whatever it is."""
    assert Redactor().redact_text("password: must be long") == f"password: {MASK} be long"


def test_custom_mask_and_long_text() -> None:
    """The mask is configurable and long texts with a secret at the end are fully scanned."""
    text = "lorem ipsum " * 5000 + "ghp_" + "A1b2C3d4E5" * 4
    out = Redactor(mask="***").redact_text(text)
    assert out.endswith("***") and "A1b2C3d4E5" not in out


def test_lone_surrogates_are_replaced_so_every_backend_encodes() -> None:
    """A lone surrogate becomes U+FFFD so orjson and json agree on the output."""
    out = Redactor().redact_text("bad \ud800 char")
    assert out == "bad \ufffd char"
    assert orjson.loads(orjson.dumps(out)) == json.loads(json.dumps(out))


def test_memo_is_bounded() -> None:
    """The clean-string memo never grows past its configured size (plus one batch)."""
    s = scrubber(cache_size=50)
    for i in range(1000):
        assert s.scrub(f"clean text {i}") == f"clean text {i}"
    assert len(s.memo) <= 51


def test_plain_pattern_is_applied_to_every_string() -> None:
    """A regex without literals is checked everywhere; its 'secret' group alone is masked."""
    r = Redactor(patterns=[re.compile(r"emp-(?P<secret>\d{6})")])
    assert r.redact_text("badge emp-123456 ok") == f"badge emp-{MASK} ok"
    assert r.redact({"a": ["emp-654321"]}) == {"a": [f"emp-{MASK}"]}
    assert r.redact_text("password=x") == f"password={MASK}"


def test_detector_without_literals_still_runs() -> None:
    """A custom Detector with no literals cannot be skipped by the cheap check."""
    r = Redactor(patterns=[Detector("digits", r"\b\d{12}\b")])
    assert r.redact({"note": "acct 123456789012"}) == {"note": f"acct {MASK}"}


LITERALS = st.text(alphabet="abcXYZ_-.:=/09", min_size=2, max_size=8)
FILLER = st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC0123456789 ./-_", max_size=40)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(LITERALS, st.booleans()), min_size=1, max_size=6), FILLER, FILLER,
       st.data())  # fmt: skip
def test_anchored_trigger_finds_any_literal_anywhere(
    literals: list[tuple[str, bool]], before: str, after: str, data: st.DataObject
) -> None:
    """Whatever the literals and their surroundings, the reversed anchored scan finds them."""
    lit, ci = data.draw(st.sampled_from(literals))
    if ci:
        lit = data.draw(st.sampled_from([lit, lit.upper(), lit.swapcase()]))
    trigger = build_trigger(literals)
    assert trigger.search((before + lit + after)[::-1]) is not None


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(LITERALS, st.booleans()), min_size=2, max_size=6), FILLER, FILLER,
       st.data())  # fmt: skip
def test_every_detector_whose_literal_is_present_runs(
    literals: list[tuple[str, bool]], before: str, after: str, data: st.DataObject
) -> None:
    """Detectors whose literals share an anchor or overlap each run where their literal is."""
    detectors = []
    for i, (lit, ci) in enumerate(literals):  # a regex in any case when the literal may be
        regex = ("(?i:{})" if ci else "{}").format(re.escape(lit)) + "([0-9]{6})"
        detectors.append(Detector(f"custom{i}", regex, (lit,), group=1, ignore_case=ci))
    lit, ci = data.draw(st.sampled_from(literals))
    if ci:
        lit = data.draw(st.sampled_from([lit, lit.upper(), lit.swapcase()]))
    text = f"{before} {lit}938271 {after}"
    assert f"{lit}938271" not in Redactor(patterns=detectors).redact_text(text)


PW = "Zq9" + "vT4wYc7Nb"  # matches no vendor format: only the syntax around it can hide it
SYNTAXES = [
    f'bitbucket_TOKEN ?= "{PW}"',
    f'SNYK_TOKEN ::= "{PW}"',
    f'SNYK_TOKEN :::= "{PW}"',
    f'$flyToken .= "{PW}"',
    f'var atlassianToken string = "{PW}"',
    f'System.setProperty("GRAFANA_TOKEN", "{PW}")',
    f'utils.GetEnvOrDefault("api_token", "{PW}")',
    f'std::string secret("{PW}");',
    f"password - '{PW}'",
    f'payload {{\\"pass\\": \\"{PW}',
    f'if (db_pass != "{PW}")',
    f"curl -u elastic:{PW} https://localhost:9200",
    f"curl -s --user 'api:{PW}' https://api.example.com",
    f"export BUNDLE_GEMS__EXAMPLE__COM=user:{PW}",
    f"<password>{PW}</password>",
    f"<apiToken>\n    {PW}\n</apiToken>",
    f"<password><![CDATA[{PW}]]></password>",
    f'<add key="ClearTextPassword" value="{PW}" />',
    f"- name: API_TOKEN\n  value: {PW}",
    f"Set-Thing -ClientSecret '{PW}'",
    f"--softlayer-api-key {PW}",
    f"docker login -u ci -p {PW} registry.example.com",
    f"kind: Secret\ndata:\n  # base64\n  key: {PW}==\n",
    f"machine api.example.com login me password {PW}",
    f"HEROKU_KEY = {PW}",
    f"cloudant_pw='{PW}'",
    f"2fa_secret: {PW}",
    f"SONAR_LOGIN := {PW}12345678",
    f"cloudflare: {PW}12345678",
    f'"artifactory", "{PW}12345678"',
]


@pytest.mark.parametrize("text", SYNTAXES)
def test_credential_syntaxes_are_masked(text: str) -> None:
    """Assignments, calls, XML, flags, curl, netrc, Kubernetes, weak keys: the value is gone."""
    out = Redactor().redact_text(text)
    assert PW not in out and MASK in out, out


READABLE = [
    "password_min_length=12",
    "session_timeout=30",
    "token_count: 8192",
    "JsonWebTokenError: jwt malformed",
    "machine learning password reset flow",
    "user_login=alice",
    "last_login: 2026-11-23",
    "sort_key=created_at",
    "cloudflare: production",
    "ssh -p 2222 host",
    "curl -u alice https://example.com",
]


@pytest.mark.parametrize("text", READABLE)
def test_descriptions_of_secrets_stay_readable(text: str) -> None:
    """Qualified keys, weak keys with plain values, prose and non-credential flags are kept."""
    assert Redactor().redact_text(text) == text


@pytest.mark.parametrize("vendor", ["notion", "heroku", "slack"])
def test_a_vendor_uri_scheme_is_not_a_key(vendor: str) -> None:
    """``notion://<id>`` names a destination: the vendor word before ``://`` is no weak key."""
    uri = f"{vendor}://0f3c8e2a9d7b4c61a5e2b7d9c4f1a8e3"
    assert Redactor().redact_text(f"exported to {uri}") == f"exported to {uri}"
    assert "0f3c8e2a" not in Redactor().redact_text(f"{vendor}: 0f3c8e2a9d7b4c61a5e2b7d9c4f1a8e3")


@pytest.mark.parametrize(
    "text",
    [
        f"--password {PW}",
        f"run\t--password {PW}",
        f"login\t-p {PW}",
        f"echo '--password {PW}'",
        f"(--token {PW})",
        f"a machine h login u password {PW}",
    ],
)
def test_flags_at_the_start_after_a_tab_or_in_a_batch_are_masked(text: str) -> None:
    """A flag or .netrc entry is found alone, first, after a tab, and among other new strings."""
    r = Redactor()
    assert PW not in r.redact_text(text)
    assert PW not in repr(Redactor().redact({"a": "build-1 ok", "b": [text, "x-y"]}))
    assert PW not in repr(Redactor().redact({"a": "ok", "b": text}))
