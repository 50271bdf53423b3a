"""What the redactor treats as sensitive: key names, and value patterns found inside text.

Floor 1 (standard library only, no I/O): pure data plus the key classifier. `redaction` walks
structures and applies these rules. Sources: Yelp detect-secrets plugins, gitleaks default rules,
the OWASP Logging Cheat Sheet; each vendor rule is anchored on its documented token prefix.

Key decisions (whole-word matching on the normalised key, see `KeyClassifier`):
- ``key`` alone is NOT sensitive (cache keys, sort keys, object keys, i18n keys are everywhere);
  compounds that name a secret (``api_key``, ``private_key``, ``access_key``, ``signing_key`` …)
  are, and a value that looks like a credential is masked by the value patterns anyway.
- ``pin``, ``auth`` and ``pass`` are sensitive only as the last word (``user_pin``, ``basic_auth``,
  ``db_pass``), so ``pin_version``, ``auth_method`` and ``pass_rate`` stay readable.
- ``tokens`` (plural) is NOT sensitive: it counts things (``max_tokens``, ``prompt_tokens``).
- ``content_type``/``content_length``/``token_type`` and friends are explicitly readable.
- ``code`` is NOT sensitive by default (``status_code``, "exit code: 1"); add it if you log code.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ALLOWED_KEYS",
    "DEFAULT_PATTERNS",
    "DEFAULT_SENSITIVE_KEYS",
    "HEAD_ONLY_KEYS",
    "WORD_PREFIXES",
    "WORD_SUFFIXES",
    "Detector",
    "KeyClassifier",
    "split_words",
]

DEFAULT_SENSITIVE_KEYS: Final = (
    # credentials
    "password", "passwd", "pwd", "passphrase", "pass_phrase", "secret", "secrets", "token",
    "api_key", "auth_key", "auth_header", "auth_code", "authorization", "bearer", "jwt",
    "cookie", "cookies", "session", "credential", "credentials", "creds", "otp", "totp",
    "signature", "sig", "pin_code", "passcode", "mfa_code", "recovery_code", "backup_code",
    "ssh_key", "seed_phrase", "mnemonic",
    # key material
    "private_key", "priv_key", "access_key", "secret_key", "signing_key", "encryption_key",
    "master_key", "account_key", "license_key", "hmac_key", "shared_access_key",
    # payloads this product must never log
    "spec", "specs", "raw_spec", "specification", "content", "contents", "file_content",
    "source_code",
    # personal data that is effectively a credential
    "ssn", "social_security_number", "credit_card", "card_number", "cvv", "cvc",
)  # fmt: skip
"""Key phrases masked wherever they occur as whole words (case/separator-insensitive)."""

HEAD_ONLY_KEYS: Final = ("auth", "pass", "pin")
"""Words that make a key sensitive only when they are its last word."""

WORD_SUFFIXES: Final = (
    "password", "passwd", "passphrase", "token", "secret", "apikey", "cookie", "sessionid",
    "sessid", "credential", "credentials", "privatekey", "spec", "content", "contents",
)  # fmt: skip
"""Run-together words ending like this are sensitive (``csrftoken``, ``JSESSIONID``)."""

WORD_PREFIXES: Final = ("password", "passwd", "passphrase")
"""Run-together words starting like this are sensitive (``passwordhash``)."""

ALLOWED_KEYS: Final = (
    "content_type", "content_length", "content_encoding", "content_disposition",
    "content_language", "content_security_policy", "token_type",
)  # fmt: skip
"""Phrases that never count as sensitive on their own (removed before matching)."""

_CAMEL = re.compile(
    r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])"
)
_NON_ALNUM = re.compile(r"[\W_]+")
_MAX_WINDOW = 4


def split_words(name: str) -> list[str]:
    """Split a key into lower-case words on ``_ - .``, spaces, camelCase and letter/digit runs."""
    return [w for w in _NON_ALNUM.split(_CAMEL.sub(" ", name).lower()) if w]


class KeyClassifier:
    """Decides whether a key name is sensitive; uncached (the redactor caches decisions).

    A key is sensitive when a run of its words, concatenated, spells a sensitive phrase
    (so ``api_key``, ``apiKey``, ``X-Api-Key`` and ``APIKEY`` all match ``api_key``), when one
    of its words ends/starts with a `WORD_SUFFIXES`/`WORD_PREFIXES` stem, or when its last word
    is one of `HEAD_ONLY_KEYS`. Words of an `ALLOWED_KEYS` phrase are ignored.
    """

    __slots__ = ("_allowed", "_joined")

    def __init__(self, extra: Iterable[str] = ()) -> None:
        phrases = [*DEFAULT_SENSITIVE_KEYS, *extra]
        self._joined = frozenset("".join(split_words(p)) for p in phrases) - {""}
        self._allowed = tuple(tuple(split_words(a)) for a in ALLOWED_KEYS)

    def _strip_allowed(self, words: list[str]) -> list[str]:
        out: list[str] = []
        i, n = 0, len(words)
        while i < n:
            for phrase in self._allowed:
                if tuple(words[i : i + len(phrase)]) == phrase:
                    i += len(phrase)
                    break
            else:
                out.append(words[i])
                i += 1
        return out

    def is_sensitive(self, name: str) -> bool:
        """Return True when values under `name` must be masked.

        Both readings are tried: camelCase-aware words, and words split on separators only (so
        odd casing such as ``SESSIONid`` or ``pAsSwOrD`` cannot defeat the camelCase split).
        """
        if self._match(split_words(name)):
            return True
        flat = [w for w in _NON_ALNUM.split(name.lower()) if w]
        return self._match(flat)

    def _match(self, words: list[str]) -> bool:
        words = self._strip_allowed(words)
        if not words:
            return False
        joined = self._joined
        n = len(words)
        for i in range(n):
            word = words[i]
            if word.endswith(WORD_SUFFIXES) or word.startswith(WORD_PREFIXES):
                return True
            run = ""
            for j in range(i, min(n, i + _MAX_WINDOW)):
                run += words[j]
                if run in joined:
                    return True
        return words[-1] in HEAD_ONLY_KEYS


@dataclass(frozen=True)
class Detector:
    """A value pattern: its regex, literals one of which every match contains, what to mask.

    `literals` make the detector cheap: text containing none of them is never searched (an empty
    tuple means "always search"). `group` 0 masks the whole match; n > 0 masks only group n and
    keeps the rest as context. `ignore_case` says the literals may appear in any case (the regex
    carries its own inline flags). Regexes are compiled with `re.ASCII`.
    """

    name: str
    regex: str
    literals: tuple[str, ...] = ()
    group: int = 0
    ignore_case: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.literals, tuple) or not all(
            isinstance(x, str) and x for x in self.literals
        ):
            raise ValueError(f"{self.name}: literals must be a tuple of non-empty strings")
        self.compile()  # a bad regex fails here, at configuration time

    def compile(self) -> re.Pattern[str]:
        """Compile the regex (ASCII classes, so ``\\b`` and ``\\w`` never depend on locale)."""
        return re.compile(self.regex, re.ASCII)


_B64URL = "[A-Za-z0-9_-]"
_CRED = r"(?=[A-Za-z0-9._~+/-]*(?:[0-9._~+/-]|[a-z][A-Z]|[A-Z]{2}))[A-Za-z0-9._~+/-]{8,}=*"
"""A credential-looking run: >= 8 token chars with a digit, a symbol or mixed case (not a word)."""

DEFAULT_PATTERNS: Final = (
    Detector(
        "pem-private-key",
        r"(?s:-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----.*?"
        r"(?:-----END[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z))",
        ("PRIVATE KEY",),
    ),
    Detector("der-private-key", r"MII[A-Za-z0-9+/]{60,}={0,2}", ("MII",)),
    Detector(
        "jwt",
        rf"eyJ{_B64URL}{{8,}}\.ey{_B64URL}{{8,}}\.{_B64URL}*(?:\.{_B64URL}+){{0,2}}",
        ("eyJ",),
    ),
    Detector(
        "url-credentials",
        r"://([^\s:/?#@'\"<>]{0,128}):([^\s/?#'\"<>]{1,256})@(?=[A-Za-z0-9\[])",
        ("://",),
        group=2,
    ),
    Detector(
        "slack-webhook",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/+-]{10,})",
        ("hooks.slack.com/",),
        group=1,
    ),
    Detector(
        "discord-webhook",
        r"discord(?:app)?\.com/api/webhooks/[0-9]+/([A-Za-z0-9_-]{20,})",
        ("/api/webhooks/",),
        group=1,
    ),
    Detector(
        "github-token",
        r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    Detector(
        "gitlab-token",
        r"(?:gl(?:pat|ptt|dt|rt|ft|soat|cbt|imt|agent|oas|ffct)-|GR1348941)[A-Za-z0-9_-]{20,}",
        (
            "glpat-",
            "glptt-",
            "gldt-",
            "glrt-",
            "glft-",
            "glsoat-",
            "glcbt-",
            "glimt-",
            "glagent-",
            "gloas-",
            "glffct-",
            "GR1348941",
        ),
    ),
    Detector(
        "aws-access-key-id",
        r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])",
        ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"),
    ),
    Detector(
        "slack-token",
        r"(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,})",
        ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xapp-"),
    ),
    Detector(
        "stripe-key",
        r"(?:(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9+/=]{20,})",
        ("k_live_", "k_test_", "k_prod_", "whsec_"),
    ),
    Detector(
        "google-credential",
        r"(?:AIza[0-9A-Za-z_-]{35,}|GOCSPX-[A-Za-z0-9_-]{20,}|ya29\.[0-9A-Za-z_-]{20,})",
        ("AIza", "GOCSPX-", "ya29."),
    ),
    Detector(
        "openai-anthropic-key",
        r"(?:sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}"
        r"|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|sk-ant-[a-z]{2,10}[0-9]{0,3}-[A-Za-z0-9_-]{20,})",
        ("sk-proj-", "sk-svcacct-", "sk-admin-", "T3BlbkFJ", "sk-ant-"),
    ),
    Detector(
        "huggingface-token",
        r"(?:hf|api_org)_[A-Za-z]{34}(?![A-Za-z0-9])",
        ("hf_", "api_org_"),
    ),
    Detector("npm-token", r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])", ("npm_",)),
    Detector("pypi-token", r"pypi-AgE[A-Za-z0-9_-]{50,}", ("pypi-AgE",)),
    Detector(
        "sendgrid-key", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])", ("SG.",)
    ),
    Detector("digitalocean-token", r"do[opr]_v1_[a-f0-9]{64}", ("_v1_",)),
    Detector(
        "shopify-token",
        r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
        ("shpat_", "shpca_", "shppa_", "shpss_"),
    ),
    Detector("vault-token", r"hv[sb]\.[A-Za-z0-9_-]{24,}", ("hvs.", "hvb.")),
    Detector("linear-key", r"lin_api_[A-Za-z0-9]{40}", ("lin_api_",)),
    Detector("postman-key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("PMAK-",)),
    Detector("telegram-bot-token", r"\b[0-9]{8,10}:AA[A-Za-z0-9_-]{33}", (":AA",)),
    Detector(
        "age-secret-key",
        r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
        ("AGE-SECRET-KEY-1",),
    ),
    Detector("square-token", r"sq0(?:atp|csp)-[0-9A-Za-z_-]{22,}", ("sq0atp-", "sq0csp-")),
    Detector("atlassian-token", r"ATATT3[A-Za-z0-9_=-]{100,}", ("ATATT3",)),
    Detector("bearer", rf"\b(?i:bearer)\s+({_CRED})", ("bearer",), group=1, ignore_case=True),
    Detector(
        "basic-auth",
        r"\b(?i:basic)\s+((?=[A-Za-z0-9+/]*(?:[0-9+/]|[a-z][A-Z]|[A-Z]{2}))"
        r"[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])",
        ("basic",),
        group=1,
        ignore_case=True,
    ),
    Detector(
        "cookie-header",
        r"\b(?i:(?:set-)?cookie):[ \t]*(?![\"'\\ ])([^\r\n]+)",
        ("cookie:",),
        group=1,
        ignore_case=True,
    ),
)
"""Value patterns masked wherever they appear in text, applied in this order."""
