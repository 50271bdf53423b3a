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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ALLOWED_KEYS",
    "CATALOGUE",
    "EXAMPLE_FIELDS",
    "NOT_SENSITIVE",
    "QUALIFIER_WORDS",
    "READABLE_KEY_COMPOUNDS",
    "SENSITIVE",
    "VENDOR_KEYS",
    "WEAK",
    "WEAK_KEY_WORDS",
    "expand_example",
    "rule_table",
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

HEAD_ONLY_KEYS: Final = ("auth", "pass", "pin", "pw")
"""Words that make a key sensitive only when they are its last word (``db_pass``, ``cloudant_pw``)."""  # noqa: E501

READABLE_KEY_COMPOUNDS: Final = (
    "primary_key", "foreign_key", "sort_key", "partition_key", "range_key", "hash_key",
    "row_key", "shard_key", "composite_key", "unique_key", "index_key", "lookup_key",
    "cache_key", "idempotency_key", "dedup_key", "dedupe_key", "routing_key", "group_key",
    "object_key", "s3_key", "file_key", "storage_key", "bucket_key", "map_key", "dict_key",
    "message_key", "translation_key", "i18n_key", "locale_key", "public_key", "pub_key",
    "next_key", "start_key", "end_key", "last_key", "first_key", "sort_by_key",
)  # fmt: skip
"""``*_key`` names that stay readable: they name a record, a cache slot, a sort order, an
object in a bucket or a public key, never a credential. Every other ``<word>_key``/``<word>Key``
(``heroku_key``, ``hubspotKey``, ``cosmosKey``, ``cloudant_key``) is masked."""

QUALIFIER_WORDS: Final = (
    "length", "len", "min", "max", "minimum", "maximum", "count", "size", "timeout", "ttl",
    "expiry", "expires", "expiration", "lifetime", "age", "policy", "policies", "type", "hint",
    "strength", "rule", "rules", "enabled", "required", "format", "field", "error", "errors",
    "exception", "invalid", "expired", "missing", "mismatch",
)  # fmt: skip
"""A last word that makes a key describe a secret rather than hold it (``password_min_length``,
``session_timeout``, ``token_count``, ``JsonWebTokenError``): such keys stay readable."""

WEAK_KEY_WORDS: Final = ("login",)
"""Last words that make a key *weakly* sensitive (``SONAR_LOGIN``): masked only when its value
looks like a credential, since ``user_login`` or ``last_login`` usually hold a name or a date."""

BUNDLER_KEY = re.compile(r"BUNDLE_[A-Z0-9_]*__[A-Z0-9]+\Z")
"""Bundler's per-host credentials (``BUNDLE_GEMS__EXAMPLE__COM=user:password``)."""

_CAMEL = re.compile(
    r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])|(?<=[A-Za-z])(?=[0-9])|(?<=[0-9])(?=[A-Za-z])"
)
_NON_ALNUM = re.compile(r"[\W_]+")
_MAX_WINDOW = 4

NOT_SENSITIVE, WEAK, SENSITIVE = 0, 1, 2
"""Key strengths: readable, masked only when the value looks like a credential, always masked."""


def split_words(name: str) -> list[str]:
    """Split a key into lower-case words on ``_ - .``, spaces, camelCase and letter/digit runs."""
    return [w for w in _NON_ALNUM.split(_CAMEL.sub(" ", name).lower()) if w]


class KeyClassifier:
    """Decides whether a key name is sensitive; uncached (the redactor caches decisions).

    A key is sensitive when a run of its words, concatenated, spells a sensitive phrase
    (so ``api_key``, ``apiKey``, ``X-Api-Key`` and ``APIKEY`` all match ``api_key``), when one
    of its words ends/starts with a `WORD_SUFFIXES`/`WORD_PREFIXES` stem, when its last word
    is one of `HEAD_ONLY_KEYS`, or when it is ``<something>_key`` outside
    `READABLE_KEY_COMPOUNDS`. Words of an `ALLOWED_KEYS` phrase are ignored. `strength` also
    knows the *weak* keys: a vendor's name used as a key (``cloudflare: …``) and ``*_login``.
    """

    __slots__ = ("_allowed", "_joined", "_readable", "_vendors")

    def __init__(self, extra: Iterable[str] = (), vendors: Iterable[str] = ()) -> None:
        phrases = [*DEFAULT_SENSITIVE_KEYS, *extra]
        self._joined = frozenset("".join(split_words(p)) for p in phrases) - {""}
        self._allowed = tuple(tuple(split_words(a)) for a in ALLOWED_KEYS)
        self._readable = frozenset("".join(split_words(k)) for k in READABLE_KEY_COMPOUNDS)
        self._vendors = frozenset("".join(split_words(v)) for v in vendors) - {""}

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
        """Return True when values under `name` must be masked."""
        return self.strength(name) == SENSITIVE

    def strength(self, name: str) -> int:
        """`SENSITIVE`, `WEAK` or `NOT_SENSITIVE` for values under `name`.

        Both readings are tried: camelCase-aware words, and words split on separators only (so
        odd casing such as ``SESSIONid`` or ``pAsSwOrD`` cannot defeat the camelCase split).
        """
        words = split_words(name)
        if self._match(words) or BUNDLER_KEY.match(name.upper()) is not None:
            return SENSITIVE
        flat = [w for w in _NON_ALNUM.split(name.lower()) if w]
        if self._match(flat):
            return SENSITIVE
        words = self._strip_allowed(words)
        if words and (words[-1] in WEAK_KEY_WORDS or "".join(words) in self._vendors):
            return WEAK
        return NOT_SENSITIVE

    def _match(self, words: list[str]) -> bool:
        words = self._strip_allowed(words)
        if not words or (len(words) > 1 and words[-1] in QUALIFIER_WORDS):
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
        last = words[-1]
        if last == "key" and n > 1:  # `<word>_key` names a credential unless it is a readable one
            return not any("".join(words[i:]) in self._readable for i in range(n - 1))
        return last in HEAD_ONLY_KEYS


@dataclass(frozen=True)
class Detector:
    """A value pattern: its regex, literals one of which every match contains, what to mask.

    `literals` make the detector cheap: text containing none of them is never searched (an empty
    tuple means "always search"). `anchor` is a regex over the text read BACKWARDS, starting
    with a literal character, that every match satisfies: the cheap first check of every
    string uses it instead of the literals, for formats with no fixed text (a Discord token is
    three dotted base64 runs) or whose literals are made of common characters (``key-``:
    ``-yek`` is only looked at where a ``-`` is). `group` 0 masks the whole match; n > 0 masks
    only group n and keeps the rest as context. `bounded`: a match glued to a letter, digit or
    ``+`` before it (inside a word, a path segment, a base64 blob) is not a secret.
    `ignore_case` says the literals may appear in any case (the regex carries its own
    inline flags). Regexes are compiled with `re.ASCII`.

    `vendor`, `example` and `reference` document the rule: `example` is a template written from
    the vendor's documented format (``ghp_{an:36}``: see `EXAMPLE_FIELDS`), the part between
    ``«`` and ``»`` being the secret (the whole example when unmarked).
    """

    name: str
    regex: str
    literals: tuple[str, ...] = ()
    group: int = 0
    ignore_case: bool = False
    vendor: str = ""
    example: str = ""
    reference: str = ""
    anchor: str = ""
    bounded: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.literals, tuple) or not all(
            isinstance(x, str) and x for x in self.literals
        ):
            raise ValueError(f"{self.name}: literals must be a tuple of non-empty strings")
        if self.anchor and not _literal_start(self.anchor):
            raise ValueError(f"{self.name}: an anchor starts with a literal character")
        self.compile()  # a bad regex fails here, at configuration time
        if self.anchor and re.compile(self.anchor, re.ASCII).groups:
            raise ValueError(f"{self.name}: an anchor has no capturing group")

    def compile(self) -> re.Pattern[str]:
        """Compile the regex (ASCII classes, so ``\\b`` and ``\\w`` never depend on locale)."""
        return re.compile(self.regex, re.ASCII)


def _literal_start(rx: str) -> bool:
    """Whether `rx` starts with one literal character (plain, or escaped punctuation)."""
    return (bool(rx) and (rx[0].isalnum() or rx[0] in " _-~:;,|!@#%&=<>'\"`/")) or (
        rx[:1] == "\\" and len(rx) > 1 and not rx[1].isalnum()
    )


EXAMPLE_FIELDS: Final = {
    "an": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "lc": "abcdefghijklmnopqrstuvwxyz0123456789",
    "uc": "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789",
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "b64": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    "b64u": "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
    "d": "0123456789",
}
"""``{field:n}`` in an example: n characters drawn from this alphabet."""
_FIELD = re.compile(r"\{(an|lc|uc|hex|HEX|b64|b64u|d):(\d+)\}")


def expand_example(template: str, pick: Callable[[str, int], str]) -> tuple[str, str]:
    """(text, secret) of an example template; `pick(alphabet, n)` draws the random runs."""
    text = _FIELD.sub(lambda m: pick(EXAMPLE_FIELDS[m.group(1)], int(m.group(2))), template)
    if "«" not in text:
        return text, text
    a, b = text.index("«"), text.index("»")
    return text[:a] + text[a + 1 : b] + text[b + 1 :], text[a + 1 : b]


_B64URL = "[A-Za-z0-9_-]"
_B64 = "[A-Za-z0-9+/]"
_END = "(?![A-Za-z0-9_-])"
_CRED = r"(?=[A-Za-z0-9._~+/-]*(?:[0-9._~+/-]|[a-z][A-Z]|[A-Z]{2}))[A-Za-z0-9._~+/-]{8,}=*"
"""A credential-looking run: >= 8 token chars with a digit, a symbol or mixed case (not a word)."""
_LINES = r"(?:(?:\\n|\\r|\s)+[A-Za-z0-9+/]{4,}={0,2})*"
"""Further base64 lines of a key body (real or JSON-escaped line breaks between them)."""


def _d(vendor: str, name: str, regex: str, literals: tuple[str, ...] = (), example: str = "",
       reference: str = "", *, group: int = 0, ignore_case: bool = False,
       anchor: str = "") -> Detector:  # fmt: skip
    """One catalogue entry; a whole-match token is `bounded` (never inside a word, a path
    segment or a base64 blob), the regex keeping its literal prefix for `re`'s fast scan."""
    bounded = (
        group == 0 and name not in _DISTINCTIVE and (regex[0].isalnum() or regex.startswith("(?:"))
    )
    return Detector(
        name, regex, literals, group, ignore_case, vendor, example, reference, anchor, bounded
    )


_DISTINCTIVE = frozenset((
    "github-token", "gitlab-token", "aws-access-key-id", "slack-token", "stripe-key",
    "google-credential", "openai-anthropic-key", "huggingface-token", "npm-token", "pypi-token",
    "sendgrid-key", "digitalocean-token", "shopify-token", "vault-token", "linear-key",
    "postman-key", "age-secret-key", "square-token", "atlassian-token", "jwt",
    "der-private-key-body", "openssh-private-key-body",
))  # fmt: skip
"""Prefixes distinctive enough to be masked even glued to a word (``xghp_…``)."""
_GITLEAKS = "https://github.com/gitleaks/gitleaks/tree/master/cmd/generate/config/rules"
_DS = "https://github.com/Yelp/detect-secrets/tree/master/detect_secrets/plugins"

CATALOGUE: Final = (
    # -- key material -------------------------------------------------------------------------
    _d("(any)", "pem-private-key",
       r"(?s:-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----.*?"
       r"(?:-----END[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z))",
       ("PRIVATE KEY",),
       "-----BEGIN RSA PRIVATE KEY-----\n«MIIEow{b64:64}»\n-----END RSA PRIVATE KEY-----",
       "RFC 7468"),
    _d("(any)", "der-private-key-body", rf"MII{_B64}{{60,}}={{0,2}}{_LINES}", ("MII",),
       "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC{b64:64}\n{b64:64}\n{b64:40}==",
       "RFC 5208 (base64 DER body without its BEGIN/END lines)"),
    _d("(any)", "openssh-private-key-body", rf"b3BlbnNzaC1rZXktdjE{_B64}*={{0,2}}{_LINES}",
       ("b3BlbnNzaC1rZXktdjE",), "b3BlbnNzaC1rZXktdjEAAAAA{b64:50}\n{b64:70}",
       "OpenSSH PROTOCOL.key ('openssh-key-v1' in base64)"),
    _d("PuTTY", "putty-private-key",
       r"Private-Lines:[ \t]*[0-9]+[ \t]*(?:\\r)?(?:\\n|\r?\n)([A-Za-z0-9+/=]+(?:(?:\\r)?"
       r"(?:\\n|\r?\n)[A-Za-z0-9+/=]+(?=\\r|\\n|\r|\n|\Z))*)",
       ("Private-Lines:",), "PuTTY-User-Key-File-3: ssh-ed25519\nPrivate-Lines: 1\n«{b64:44}»\n",
       "https://the.earth.li/~sgtatham/putty/0.78/htmldoc/AppendixC.html", group=1),
    _d("age", "age-secret-key", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}",
       ("AGE-SECRET-KEY-1",), "AGE-SECRET-KEY-1QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7LQPZRY9X8GF2TVDW0S3JN54KHCE6M",  # noqa: E501
       "https://age-encryption.org/v1"),
    # -- tokens with a structure ----------------------------------------------------------------
    _d("(any)", "jwt",
       rf"eyJ{_B64URL}{{8,}}\.ey{_B64URL}{{8,}}(?:\.{_B64URL}*(?:\.{_B64URL}+){{0,2}})?",
       ("eyJ",), "token «eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.{b64u:43}»", "RFC 7519 (also unsigned)"),  # noqa: E501
    _d("Discord", "discord-bot-token",
       rf"(?<![A-Za-z0-9_-]){_B64URL}{{23,28}}\.{_B64URL}{{6,7}}\.{_B64URL}{{27,}}(?:!{_B64URL}+)?",
       (), "Bot «MTk4NjIyNDgzNDcxOTI1MjQ4.{b64u:6}.{b64u:38}»",
       "https://discord.com/developers/docs/reference#authentication",
       anchor=rf"\.{_B64URL}{{6,7}}\.{_B64URL}{{23}}"),
    _d("(any)", "url-credentials",
       r"://([^\s:/?#@'\"<>]{0,128}):([^\s/?#'\"<>]{1,256})@(?=[A-Za-z0-9\[])", ("://",),
       "postgres://app:«{an:16}»@db.internal:5432/app", "RFC 3986 userinfo", group=2),
    _d("Slack", "slack-webhook",
       r"hooks\.slack\.com/(?:services|workflows|triggers)/([A-Za-z0-9_/+-]{10,})",
       ("hooks.slack.com/",), "https://hooks.slack.com/services/«T{uc:8}/B{uc:8}/{an:24}»",
       "https://api.slack.com/messaging/webhooks", group=1),
    _d("Discord", "discord-webhook",
       r"discord(?:app)?\.com/api/webhooks/[0-9]+/([A-Za-z0-9_-]{20,})", ("/api/webhooks/",),
       "https://discord.com/api/webhooks/{d:18}/«{b64u:68}»",
       "https://discord.com/developers/docs/resources/webhook", group=1),
    _d("Microsoft Teams", "teams-webhook",
       r"webhook\.office\.com/webhookb2/([A-Za-z0-9@/_-]{40,})", ("webhook.office.com/",),
       "https://example.webhook.office.com/webhookb2/«{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}@{hex:32}/IncomingWebhook/{hex:32}»",
       f"{_GITLEAKS}/teams.go", group=1),
    _d("Telegram", "telegram-bot-token",
       rf"(?<![0-9])[0-9]{{5,16}}:A[A-Za-z0-9_-]{{32,35}}{_END}", (":A",),
       "https://api.telegram.org/bot«{d:10}:AA{b64u:33}»/getMe",
       "https://core.telegram.org/bots/api#authorizing-your-bot"),
    _d("Facebook", "facebook-app-token",
       r"(?<![0-9])[0-9]{15,16}(?:\||%7[Cc])[A-Za-z0-9_-]{27,40}", ("|", "%7C", "%7c"),
       "facebook «{d:16}|{b64u:27}»", f"{_GITLEAKS}/facebook.go",
       anchor=r"\|[0-9]{15}"),
    _d("Mailchimp", "mailchimp-key", r"(?<![A-Za-z0-9])[0-9a-f]{32}-us[0-9]{1,2}(?![0-9])",
       ("-us",), "{hex:32}-us20", "https://mailchimp.com/developer/marketing/guides/quick-start/"),
    _d("Azure AD", "azure-ad-client-secret",
       r"(?<![A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}[0-9]Q~[A-Za-z0-9_~.-]{31,34}(?![A-Za-z0-9_~.-])",
       ("Q~",), "client secret «{an:3}8Q~{an:34}»", f"{_GITLEAKS}/azure.go"),
    _d("Artifactory", "artifactory-token",
       r"(?<![A-Za-z0-9])(?:AKC[A-Za-z0-9]{10,}|AP[0-9A-F][A-Za-z0-9]{8,}|cmVmdGtuOjAxOj[A-Za-z0-9]{40,})(?![A-Za-z0-9])",
       ("AKC", *(f"AP{c}" for c in "0123456789ABCDEF"), "cmVmdGtuOjAxOj"),
       "AKC{an:69}", f"{_DS}/artifactory.py"),
    _d("Twilio", "twilio-key", r"(?<![A-Za-z0-9])(?:SK|AC)[0-9a-z]{32}(?![A-Za-z0-9])",
       ("SK", "AC"), "SK{hex:32}", f"{_DS}/twilio.py"),
    _d("SoftLayer", "softlayer-url-key", r"api\.softlayer\.com/soap/v3(?:\.1)?/([a-z0-9]{64})",
       ("softlayer.com/",), "http://api.softlayer.com/soap/v3/«{lc:64}»", f"{_DS}/softlayer.py",
       group=1, anchor=r"\.reyaltfos"),
    _d("HashiCorp", "terraform-cloud-token", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,70}",
       (".atlasv1.",), "{lc:14}.atlasv1.{b64u:67}", f"{_GITLEAKS}/hashicorp.go",
       anchor=r"\.1vsalta\."),
    _d("Dynatrace", "dynatrace-token", r"dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}", ("dt0c01.",),
       "dt0c01.{uc:24}.{uc:64}", "https://docs.dynatrace.com/docs/manage/access-control/access-tokens",
       anchor=r"\.10c0td"),
    _d("Cloudflare", "cloudflare-origin-ca-key", r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}", ("v1.0-",),
       "v1.0-{hex:24}-{hex:146}", f"{_GITLEAKS}/cloudflare.go", anchor=r"-0\.1v"),
    _d("1Password", "1password-secret-key",
       r"A3-[A-Z0-9]{5,6}(?:-[A-Z0-9]{5,11}){4,5}(?![A-Za-z0-9])", ("A3-",),
       "A3-{uc:6}-{uc:11}-{uc:5}-{uc:5}-{uc:5}",
       "https://support.1password.com/secret-key-security/"),
    # -- vendor prefixes ------------------------------------------------------------------------
    _d("GitHub", "github-token", r"(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,255})",  # noqa: E501
       ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), "ghp_{an:36}",
       "https://github.blog/2021-04-05-behind-githubs-new-authentication-token-formats/"),
    _d("GitLab", "gitlab-token",
       r"(?:gl(?:pat|ptt|dt|rt|ft|soat|cbt|imt|agent|oas|ffct|wt|cr)-|GR1348941)"
       r"[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]{2,}){0,2}",
       ("glpat-", "glptt-", "gldt-", "glrt-", "glft-", "glsoat-", "glcbt-", "glimt-", "glagent-",
        "gloas-", "glffct-", "glwt-", "glcr-", "GR1348941"),
       "glpat-{b64u:27}.01.{lc:9}", "https://docs.gitlab.com/security/tokens/ (routable tokens)"),
    _d("AWS", "aws-access-key-id", r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}(?![A-Za-z0-9])",  # noqa: E501
       ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"), "AKIA{uc:16}",
       "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html"),
    _d("AWS", "aws-bedrock-key", r"ABSK[A-Za-z0-9+/]{100,}={0,2}", ("ABSK",),
       "ABSKQmVkcm9ja0FQSUtleS{b64:110}=",
       "https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html"),
    _d("AWS", "aws-bedrock-short-term-key", r"bedrock-api-key-[A-Za-z0-9+/=]{40,}",
       ("bedrock-api-key-",), "bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t{b64:60}",
       "https://docs.aws.amazon.com/bedrock/latest/userguide/api-keys.html",
       anchor="-yek-ipa-kcordeb"),
    _d("AWS", "aws-session-token", r"(?:IQoJb3JpZ2luX2Vj|FwoGZXIvYXdz)[A-Za-z0-9+/=]{100,}",
       ("IQoJb3JpZ2luX2Vj", "FwoGZXIvYXdz"), "IQoJb3JpZ2luX2VjE{b64:300}",
       "https://docs.aws.amazon.com/STS/latest/APIReference/API_Credentials.html"),
    _d("Alibaba", "alibaba-access-key-id", r"LTAI[A-Za-z0-9]{12,20}(?![A-Za-z0-9])", ("LTAI",),
       "LTAI{an:20}", "https://www.alibabacloud.com/help/en/ram/user-guide/create-an-accesskey-pair"),
    _d("Yandex", "yandex-credential",
       r"(?:(?<![A-Za-z0-9])YC[A-Za-z0-9_-]{38}|AQVN[A-Za-z0-9_-]{35,38})(?![A-Za-z0-9_-])",
       ("YC", "AQVN"), "YC{b64u:38}", f"{_GITLEAKS}/yandex.go"),
    _d("Slack", "slack-token", r"(?:xox[abposre]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,})",
       ("xoxa-", "xoxb-", "xoxp-", "xoxo-", "xoxs-", "xoxr-", "xoxe-", "xapp-"),
       "xoxb-{d:12}-{d:13}-{an:24}", "https://api.slack.com/concepts/token-types"),
    _d("Stripe", "stripe-key",
       r"(?:(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{10,}|whsec_[A-Za-z0-9+/=]{20,})",
       ("k_live_", "k_test_", "k_prod_", "whsec_"), "sk_live_{an:24}",
       "https://docs.stripe.com/keys"),
    _d("Google", "google-credential",
       r"(?:AIza[0-9A-Za-z_-]{35,}|GOCSPX-[A-Za-z0-9_-]{20,}|ya29\.[0-9A-Za-z_-]{20,})",
       ("AIza", "GOCSPX-", "ya29."), "AIza{b64u:35}",
       "https://cloud.google.com/docs/authentication/api-keys"),
    _d("OpenAI/Anthropic", "openai-anthropic-key",
       r"(?:sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}"
       r"|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|sk-ant-[a-z]{2,10}[0-9]{0,3}-[A-Za-z0-9_-]{20,}"
       r"|(?<![A-Za-z0-9])sk-[A-Za-z0-9]{32,}(?![A-Za-z0-9_-]))",
       ("sk-",), "sk-proj-{b64u:64}", "https://platform.openai.com/docs/api-reference/authentication"),
    _d("Perplexity", "perplexity-key", r"pplx-[A-Za-z0-9]{32,64}", ("pplx-",), "pplx-{an:48}",
       "https://docs.perplexity.ai/guides/getting-started"),
    _d("Groq", "groq-key", r"gsk_[A-Za-z0-9]{48,56}", ("gsk_",), "gsk_{an:52}",
       "https://console.groq.com/docs/api-keys"),
    _d("xAI", "xai-key", r"xai-[A-Za-z0-9]{70,90}", ("xai-",), "xai-{an:80}",
       "https://docs.x.ai/docs/overview"),
    _d("Replicate", "replicate-token", r"r8_[A-Za-z0-9]{37}(?![A-Za-z0-9])", ("r8_",), "r8_{an:37}",
       "https://replicate.com/docs/topics/security/api-tokens", anchor="_8r"),
    _d("Hugging Face", "huggingface-token", r"(?:hf|api_org)_[A-Za-z0-9]{34}(?![A-Za-z0-9])",
       ("hf_", "api_org_"), "hf_{an:34}", "https://huggingface.co/docs/hub/security-tokens"),
    _d("npm", "npm-token", r"npm_[A-Za-z0-9]{36}(?![A-Za-z0-9])", ("npm_",), "npm_{an:36}",
       "https://docs.npmjs.com/about-access-tokens"),
    _d("PyPI", "pypi-token", r"pypi-AgE[A-Za-z0-9_-]{50,}", ("pypi-AgE",),
       "pypi-AgEIcHlwaS5vcmc{b64u:70}", "https://pypi.org/help/#apitoken"),
    _d("RubyGems", "rubygems-key", r"rubygems_[a-f0-9]{48}", ("rubygems_",), "rubygems_{hex:48}",
       "https://guides.rubygems.org/api-key-scopes/"),
    _d("Docker", "docker-hub-pat", r"dckr_(?:pat|oat)_[A-Za-z0-9_-]{27,}", ("dckr_",),
       "dckr_pat_{b64u:27}", "https://docs.docker.com/security/for-developers/access-tokens/"),
    _d("Clojars", "clojars-token", r"CLOJARS_[a-z0-9]{60}", ("CLOJARS_",), "CLOJARS_{lc:60}",
       f"{_GITLEAKS}/clojars.go"),
    _d("SendGrid", "sendgrid-key",
       r"SG\.(?:[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{16,64}|[A-Za-z0-9=_.-]{66})(?![A-Za-z0-9_-])",
       ("SG.",), "SG.{b64u:22}.{b64u:43}", "https://www.twilio.com/docs/sendgrid/ui/account-and-settings/api-keys"),
    _d("Mailgun", "mailgun-key", r"(?:pub)?key-[0-9a-f]{32}(?![A-Za-z0-9])", ("key-",),
       "key-{hex:32}", "https://documentation.mailgun.com/docs/mailgun/api-reference/authentication",
       anchor="-yek"),
    _d("Brevo", "brevo-key", r"xkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}", ("xkeysib-",),
       "xkeysib-{hex:64}-{an:16}", f"{_GITLEAKS}/sendinblue.go"),
    _d("DigitalOcean", "digitalocean-token", r"do[opr]_v1_[a-f0-9]{64}", ("_v1_",),
       "dop_v1_{hex:64}", "https://docs.digitalocean.com/reference/api/create-personal-access-token/"),
    _d("Shopify", "shopify-token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}",
       ("shpat_", "shpca_", "shppa_", "shpss_"), "shpat_{hex:32}",
       "https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens"),
    _d("HashiCorp Vault", "vault-token", r"hv[sbr]\.[A-Za-z0-9_-]{24,}", ("hvs.", "hvb.", "hvr."),
       "hvs.{b64u:90}", "https://developer.hashicorp.com/vault/docs/concepts/tokens"),
    _d("Linear", "linear-key", r"lin_(?:api|oauth)_[A-Za-z0-9]{40}", ("lin_api_", "lin_oauth_"),
       "lin_api_{an:40}", "https://linear.app/developers/graphql"),
    _d("Postman", "postman-key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("PMAK-",),
       "PMAK-{hex:24}-{hex:34}", "https://learning.postman.com/docs/developer/postman-api/authentication/"),
    _d("Square", "square-access-token", r"EAAA[A-Za-z0-9_-]{60}", ("EAAA",), "EAAA{b64u:60}",
       "https://developer.squareup.com/docs/build-basics/access-tokens"),
    _d("Square", "square-token", r"sq0(?:atp|csp)-[0-9A-Za-z_-]{22,}", ("sq0atp-", "sq0csp-"),
       "sq0atp-{b64u:22}", "https://developer.squareup.com/docs/build-basics/access-tokens"),
    _d("Atlassian", "atlassian-token", r"(?:ATATT3|ATCTT3|ATBB)[A-Za-z0-9_=+/-]{30,}",
       ("ATATT3", "ATCTT3", "ATBB"), "ATATT3xFfGF0{b64u:180}",
       "https://support.atlassian.com/atlassian-account/docs/manage-api-tokens-for-your-atlassian-account/"),
    _d("1Password", "1password-service-account-token", r"ops_eyJ[A-Za-z0-9+/_-]{100,}={0,3}",
       ("ops_eyJ",), "ops_eyJ{b64:250}",
       "https://developer.1password.com/docs/service-accounts/"),
    _d("Adobe", "adobe-client-secret", r"p8e-[A-Za-z0-9_-]{32}(?![A-Za-z0-9])", ("p8e-",),
       "p8e-{hex:32}", f"{_GITLEAKS}/adobe.go", anchor="-e8p"),
    _d("Airtable", "airtable-pat", r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}", (),
       "pat{an:14}.{hex:64}", "https://airtable.com/developers/web/guides/personal-access-tokens",
       anchor=r"\.[A-Za-z0-9]{14}tap"),
    _d("EasyPost", "easypost-token", r"EZ[AT]K[A-Za-z0-9]{54}", ("EZAK", "EZTK"), "EZAK{an:54}",
       f"{_GITLEAKS}/easypost.go"),
    _d("Facebook", "facebook-access-token", r"EAA[A-Za-z0-9]{2}[A-Za-z0-9]{90,}", ("EAA",),
       "EAAM{an:120}", "https://developers.facebook.com/docs/facebook-login/guides/access-tokens"),
    _d("Fly.io", "flyio-token",
       r"(?:fo1_[A-Za-z0-9_-]{39,}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3})",
       ("fo1_", "fm1a_", "fm1r_", "fm2_"), "FlyV1 «fm2_{b64:200}»",
       "https://fly.io/docs/security/tokens/"),
    _d("Grafana", "grafana-token",
       r"(?:glc_[A-Za-z0-9+/]{32,400}={0,2}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|eyJrIjoi[A-Za-z0-9]{70,400}={0,2})",
       ("glc_", "glsa_", "eyJrIjoi"), "glsa_{an:32}_{hex:8}",
       "https://grafana.com/docs/grafana/latest/administration/service-accounts/"),
    _d("Heroku", "heroku-key-v2", r"HRKU-[A-Za-z0-9_-]{30,}", ("HRKU-",), "HRKU-AA{b64u:58}",
       "https://devcenter.heroku.com/articles/authentication"),
    _d("42 Intra", "intra42-client-secret", r"s-s4t2(?:ud|af)-[a-f0-9]{64}", ("s-s4t2",),
       "s-s4t2ud-{hex:64}", f"{_GITLEAKS}/intra42.go", anchor="-(?:du|fa)2t4s-s"),
    _d("Notion", "notion-token",
       r"(?:ntn_[0-9]{11}[A-Za-z0-9]{32,40}|(?<![A-Za-z0-9])secret_[A-Za-z0-9]{43})(?![A-Za-z0-9])",
       ("ntn_", "secret_"), "ntn_{d:11}{an:35}", "https://developers.notion.com/docs/authorization"),
    _d("OpenShift", "openshift-token", r"sha256~[A-Za-z0-9_-]{43}", ("sha256~",),
       "sha256~{b64u:43}", f"{_GITLEAKS}/openshift.go"),
    _d("PlanetScale", "planetscale-token", r"pscale_(?:pw|tkn|oauth)_[A-Za-z0-9_=.-]{32,64}",
       ("pscale_",), "pscale_pw_{b64u:43}", "https://planetscale.com/docs/concepts/service-tokens"),
    _d("ReadMe", "readme-key", r"rdme_[a-z0-9]{70}", ("rdme_",), "rdme_{lc:70}",
       f"{_GITLEAKS}/readme.go"),
    _d("Sentry", "sentry-token",
       r"(?:sntrys_eyJ[A-Za-z0-9+/=_-]{50,}|sntryu_[a-f0-9]{64})", ("sntrys_", "sntryu_"),
       "sntryu_{hex:64}", "https://docs.sentry.io/account/auth-tokens/"),
    _d("SettleMint", "settlemint-token", r"sm_(?:aat|pat|sat)_[A-Za-z0-9]{16}",
       ("sm_aat_", "sm_pat_", "sm_sat_"), "sm_pat_{lc:16}", f"{_GITLEAKS}/settlemint.go"),
    _d("Shippo", "shippo-token", r"shippo_(?:live|test)_[a-fA-F0-9]{40}", ("shippo_",),
       "shippo_live_{hex:40}", "https://docs.goshippo.com/docs/guides_general/authentication/"),
    _d("Sourcegraph", "sourcegraph-token",
       r"sgph?_(?:[A-Fa-f0-9]{16}_|local_)?[A-Fa-f0-9]{40}", ("sgp_", "sgph_"),
       "sgp_{hex:16}_{hex:40}", "https://sourcegraph.com/docs/cli/how-tos/creating_an_access_token"),
    _d("SonarQube", "sonar-token", r"sq[apu]_[A-Za-z0-9]{40}", ("sqp_", "squ_", "sqa_"),
       "squ_{an:40}", "https://docs.sonarsource.com/sonarqube-server/latest/user-guide/managing-tokens/"),
    _d("Duffel", "duffel-token", r"duffel_(?:test|live)_[A-Za-z0-9_=.-]{43}", ("duffel_",),
       "duffel_test_{b64u:43}", f"{_GITLEAKS}/duffel.go"),
    _d("Doppler", "doppler-token", r"dp\.(?:pt|st|ct|sa|scim|audit)\.[A-Za-z0-9_-]{40,44}",
       ("dp.",), "dp.pt.{an:43}", "https://docs.doppler.com/docs/token-formats"),
    _d("HubSpot", "hubspot-pat", r"pat-(?:na|eu)[0-9]-[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}",  # noqa: E501
       ("pat-na", "pat-eu"), "pat-na1-{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}",
       "https://developers.hubspot.com/docs/api/private-apps"),
    _d("Pulumi", "pulumi-token", r"pul-[a-f0-9]{40}", ("pul-",), "pul-{hex:40}",
       "https://www.pulumi.com/docs/pulumi-cloud/access-management/access-tokens/"),
    _d("Prefect", "prefect-key", r"pnu_[A-Za-z0-9]{36}", ("pnu_",), "pnu_{an:36}",
       f"{_GITLEAKS}/prefect.go"),
    _d("Supabase", "supabase-key", r"(?:sbp_[a-f0-9]{40}|sb_secret_[A-Za-z0-9_-]{20,})",
       ("sbp_", "sb_secret_"), "sbp_{hex:40}", "https://supabase.com/docs/guides/api/api-keys"),
    _d("New Relic", "newrelic-key", r"NR(?:AK|JS|II)-[A-Za-z0-9]{19,27}", ("NRAK-", "NRJS-", "NRII-"),  # noqa: E501
       "NRAK-{uc:27}", f"{_GITLEAKS}/newrelic.go"),
    _d("Contentful", "contentful-pat", r"CFPAT-[A-Za-z0-9_-]{43}", ("CFPAT-",), "CFPAT-{b64u:43}",
       "https://www.contentful.com/developers/docs/references/authentication/"),
    _d("Plaid", "plaid-access-token",
       r"access-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
       ("access-sandbox-", "access-development-", "access-production-"),
       "access-sandbox-{hex:8}-{hex:4}-{hex:4}-{hex:4}-{hex:12}", "https://plaid.com/docs/api/tokens/"),
    _d("Flutterwave", "flutterwave-key", r"FLW(?:SECK|PUBK)(?:_TEST)?-[a-h0-9]{32}-X", ("FLWSECK", "FLWPUBK"),  # noqa: E501
       "FLWSECK_TEST-{hex:32}-X", f"{_GITLEAKS}/flutterwave.go"),
    _d("Flutterwave", "flutterwave-encryption-key", r"FLWSECK_TEST-?[a-h0-9]{12}(?![A-Za-z0-9])",
       ("FLWSECK_TEST",), "FLWSECK_TEST{hex:12}", f"{_GITLEAKS}/flutterwave.go"),
    _d("Authress", "authress-key",
       r"(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9-]{10,32}\.[A-Za-z0-9+/_=-]{30,120}",
       (".acc_", ".acc-"), "sc_{lc:10}.{lc:4}.acc_{lc:12}.{b64u:48}", f"{_GITLEAKS}/authress.go"),
    _d("Mapbox", "mapbox-secret-token", r"sk\.eyJ[A-Za-z0-9_-]{50,}\.[A-Za-z0-9_-]{20,}", ("sk.eyJ",),  # noqa: E501
       "sk.eyJ1Ijoi{b64u:60}.{b64u:22}", "https://docs.mapbox.com/accounts/guides/tokens/"),
    _d("Dropbox", "dropbox-short-lived-token", r"sl\.[A-Za-z0-9_-]{130,}", ("sl.",),
       "sl.{b64u:140}", f"{_GITLEAKS}/dropbox.go", anchor=r"\.ls"),
    _d("Harness", "harness-token",
       r"(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}", ("pat.", "sat."),
       "pat.{b64u:22}.{an:24}.{an:20}", f"{_GITLEAKS}/harness.go",
       anchor=r"\.[A-Za-z0-9]{24}\."),
    _d("Braintree", "braintree-access-token",
       r"access_token\$(?:production|sandbox)\$[0-9a-z]{16}\$[0-9a-f]{32}", ("access_token$",),
       "access_token$production${lc:16}${hex:32}",
       "https://developer.paypal.com/braintree/docs/guides/authorization/overview"),
    _d("Figma", "figma-pat", r"figd_[A-Za-z0-9_-]{40,}", ("figd_",), "figd_{b64u:40}",
       "https://www.figma.com/developers/api#access-tokens"),
    _d("Twitter/X", "twitter-bearer-token", r"A{20,}[A-Za-z0-9%]{30,}", ("A" * 20,),
       "AAAAAAAAAAAAAAAAAAAAA{an:60}", f"{_GITLEAKS}/twitter.go"),
    _d("Adafruit", "adafruit-io-key", r"aio_[A-Za-z0-9]{28}", ("aio_",), "aio_{an:28}",
       f"{_GITLEAKS}/adafruit.go"),
    _d("Typeform", "typeform-token", r"tfp_[A-Za-z0-9_.=-]{59}", ("tfp_",), "tfp_{b64u:59}",
       f"{_GITLEAKS}/typeform.go"),
    _d("Netlify", "netlify-token", r"nfp_[A-Za-z0-9]{36}", ("nfp_",), "nfp_{an:36}",
       "https://docs.netlify.com/api/get-started/#authentication"),
    _d("Render", "render-key", r"rnd_[A-Za-z0-9]{32}", ("rnd_",), "rnd_{an:32}",
       "https://render.com/docs/api#1-create-an-api-key"),
    _d("Octopus Deploy", "octopus-key", r"(?<![A-Za-z0-9])API-[A-Z0-9]{26}(?![A-Za-z0-9])", ("API-",),  # noqa: E501
       "API-{uc:26}", f"{_GITLEAKS}/octopusdeploy.go"),
    _d("Infracost", "infracost-key", r"ico-[A-Za-z0-9]{32}", ("ico-",), "ico-{an:32}",
       f"{_GITLEAKS}/infracost.go"),
    _d("Scalingo", "scalingo-token", r"tk-us-[A-Za-z0-9_-]{48}", ("tk-us-",), "tk-us-{b64u:48}",
       f"{_GITLEAKS}/scalingo.go"),
    _d("Frame.io", "frameio-token", r"fio-u-[A-Za-z0-9_=-]{64}", ("fio-u-",), "fio-u-{b64u:64}",
       f"{_GITLEAKS}/frameio.go"),
    _d("(any)", "bearer", rf"\b(?i:bearer)\s+({_CRED})", ("bearer",),
       "Authorization: Bearer «{b64u:32}»", "RFC 6750", group=1, ignore_case=True),
    _d("(any)", "basic-auth",
       r"\b(?i:basic)\s+((?=[A-Za-z0-9+/]*(?:[0-9+/]|[a-z][A-Z]|[A-Z]{2}))"
       r"[A-Za-z0-9+/]{8,}={0,2})",
       ("basic",), "header Basic «{b64:24}»", "RFC 7617", group=1, ignore_case=True),
    _d("(any)", "cookie-header", r"\b(?i:(?:set-)?cookie):[ \t]*(?![\"'\\ ])([^\r\n]+)",
       ("cookie:",), "Cookie: «sessionid={an:32}»", "RFC 6265", group=1, ignore_case=True),
)  # fmt: skip
"""The vendor catalogue: one entry per format, the source of `DEFAULT_PATTERNS` and of the rule
table in ``docs/redaction.md``; adding a vendor is one entry here."""

DEFAULT_PATTERNS: Final = CATALOGUE
"""Value patterns masked wherever they appear in text, applied in this order."""

_EXTRA_VENDOR_KEYS = (
    "cloudflare", "artifactory", "sourcegraph", "telegram", "heroku", "snyk", "sonar", "okta",
    "jfrog", "fastly", "kraken", "bittrex", "cloudant", "softlayer", "twilio",
)  # fmt: skip
VENDOR_KEYS: Final = tuple(
    sorted({*(d.vendor.lower() for d in CATALOGUE if d.vendor != "(any)"), *_EXTRA_VENDOR_KEYS})
)
"""Vendor names that, used as a key (``cloudflare: …``), make it weakly sensitive."""


def rule_table() -> str:
    """The catalogue as a Markdown table (the source of ``docs/redaction.md``'s rule table)."""
    rows = ["| vendor | rule | example (format) | reference |", "| --- | --- | --- | --- |"]
    for d in CATALOGUE:
        example = d.example.replace("|", "\\|").replace("\n", "\\n")
        rows.append(f"| {d.vendor} | `{d.name}` | `{example}` | {d.reference} |")
    return "\n".join(rows) + "\n"
