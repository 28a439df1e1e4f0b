"""S: credentials and personal data that must not end up in a model's weights."""

from __future__ import annotations

import base64
import json
import re

from curate.diagnostics import Finding
from curate.registry import record_rule
from curate.scan import Trigger


def _texts(message):
    """(text, pointer maker) for a message's content and, in the openai format, its tool-call arguments.

    A pointer is built only for a finding: most texts have none.
    """
    yield message.text, lambda: message.content_pointer
    calls = message.tool_calls
    if isinstance(calls, list):
        for j, call in enumerate(calls):
            fn = call.get("function") if isinstance(call, dict) else None
            args = fn.get("arguments") if isinstance(fn, dict) else None
            if isinstance(args, str) and args:
                yield args, lambda j=j: f"{message.pointer}/tool_calls/{j}/function/arguments"


def _summary(items: list[str]) -> str:
    shown = ", ".join(items[:3])
    return shown + (f" and {len(items) - 3} more" if len(items) > 3 else "")


# ---- S001 secrets --------------------------------------------------------------------------------

# (kind, substrings one of which must occur, pattern: group 1 the non-secret prefix, group 2 the secret body)
_SECRETS = [
    ("private key", ("PRIVATE KEY",), re.compile(r"(-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----)()")),
    ("Anthropic API key", ("sk-ant-",), re.compile(r"(sk-ant-(?:[a-z]+\d\d-)?)([A-Za-z0-9_-]{32,})")),
    ("OpenAI API key", ("sk-",), re.compile(r"(sk-(?:proj-|svcacct-|admin-)?)(?!ant-)([A-Za-z0-9_-]{32,})")),
    ("Stripe live key", ("_live_",), re.compile(r"((?:sk|rk)_live_)([0-9A-Za-z]{20,})")),
    ("AWS access key id", ("AKIA",), re.compile(r"(AKIA)([0-9A-Z]{16})(?![0-9A-Za-z])")),
    ("AWS access key id", ("ASIA",), re.compile(r"(ASIA)([0-9A-Z]{16})(?![0-9A-Za-z])")),
    (
        "AWS secret access key",
        ("ccess", "CCESS"),
        re.compile(
            r"((?i:aws_?secret_?access_?key|secretaccesskey)[\"']?\s*[:=]\s*[\"']?)([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
        ),
    ),
    (
        "GitHub token",
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
        re.compile(r"(gh[pousr]_)([A-Za-z0-9]{36})(?![A-Za-z0-9])"),
    ),
    ("GitHub token", ("github_pat_",), re.compile(r"(github_pat_)([A-Za-z0-9_]{50,})")),
    ("Slack token", ("xox",), re.compile(r"(xox[baprs]-)([A-Za-z0-9-]{10,})")),
    (
        "Slack webhook",
        ("hooks.slack.com",),
        re.compile(r"(https://hooks\.slack\.com/services/)(T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+)"),
    ),
    ("Google API key", ("AIza",), re.compile(r"(AIza)([0-9A-Za-z_-]{35})(?![0-9A-Za-z_-])")),
    ("Hugging Face token", ("hf_",), re.compile(r"(hf_)([A-Za-z0-9]{34})(?![A-Za-z0-9_])")),
    ("JWT", ("eyJ",), re.compile(r"(eyJ)([A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})")),
]
_PLACEHOLDER = re.compile(r"x{4}|your|example|placeholder|dummy|fake|redacted|insert|sample|test|1234|abcd|here", re.I)
_KEY_BODY = re.compile(r"[A-Za-z0-9+/=\\]{40,}")
_MAX_CANDIDATES = 100  # matches of one pattern checked per text: bounds the work on pathological input
_SHOW_PREFIX_ONLY = ("private key", "Slack webhook")


def _jwt_expires(body: str) -> bool:
    """Whether a JWT's payload is a JSON object with an `exp` claim: issued tokens have one, documentation
    samples (jwt.io's `{"sub": "1234567890", ...}`, PyJWT's `{"some": "payload"}`) do not."""
    payload = body.split(".")[1]
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (ValueError, TypeError):
        return False
    return isinstance(claims, dict) and "exp" in claims


def _is_secret(kind: str, text: str, m: re.Match) -> bool:
    start, body = m.start(), m.group(2)
    if kind == "private key":  # a real body: several base64 lines, not `...` or one sample line
        runs = [len(r) for r in _KEY_BODY.findall(text, m.end(), m.end() + 1000)]
        return sum(runs) >= 100 and (len(runs) >= 2 or runs[0] >= 100)
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-") and kind != "AWS secret access key":
        return False  # the prefix is the end of a longer word: `task-...`, `mask_live_...`
    if kind == "JWT":
        return _jwt_expires(body)
    if _PLACEHOLDER.search(body) or len(set(body)) < 10:
        return False
    if kind in ("OpenAI API key", "Anthropic API key"):
        # real keys are random: digits and capitals, few hyphens; `sk-` then a hyphenated phrase is a slug
        return any(c.isdigit() for c in body) and any(c.isupper() for c in body) and body.count("-") * 8 < len(body)
    if kind == "Hugging Face token":
        return any(c.isupper() for c in body) and any(c.islower() for c in body)
    if kind == "Slack token":
        return sum(c.isdigit() for c in body) >= 6
    return True


# The cheap test every text goes through: a character, then the needles that contain it.
_GATES = (
    ("-", ("sk-", "xox", "-----BEGIN")),
    ("_", ("_live_", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "hf_", "ccess", "CCESS")),
    ("K", ("AKIA", "ccess")),
    ("I", ("ASIA",)),
    ("J", ("eyJ",)),
    ("z", ("AIza",)),
    (".", ("hooks.slack.com",)),
)


def _maybe_secret(text: str) -> bool:
    for char, needles in _GATES:
        if char in text:
            for needle in needles:
                if needle in text:
                    return True
    return False


def find_secrets(text: str) -> list[str]:
    """Redacted descriptions of the credentials in a text, e.g. "OpenAI API key `sk-proj-Ab1x…`"."""
    if not _maybe_secret(text):
        return []
    out = []
    for kind, needles, pattern in _SECRETS:
        if not any(n in text for n in needles):
            continue
        for _, m in zip(range(_MAX_CANDIDATES), pattern.finditer(text)):
            if _is_secret(kind, text, m):
                item = f"{kind} `{_redact(kind, m)}`"
                if item not in out:
                    out.append(item)
    return out


def _redact(kind: str, m: re.Match) -> str:
    """What a finding may show of a secret: its public prefix, and four characters where they identify it."""
    if kind in _SHOW_PREFIX_ONLY:
        return m.group(1)
    if kind == "AWS secret access key":
        word = re.match(r"\w+", m.group(1))
        assert word is not None  # the pattern's group starts with a word character
        return word.group(0) + " = …"
    return m.group(1) + m.group(2)[:4] + "…"


@record_rule("S001", "secret", "error", trigger=Trigger(tuple(n for _, needles in _GATES for n in needles)))
def secret(record, ctx):
    """Credentials in a message: API keys, access tokens, private key blocks.

    ## What it does
    Scans every message (and tool-call arguments) for OpenAI (`sk-`,
    `sk-proj-`), Anthropic (`sk-ant-`), Stripe live (`sk_live_`), AWS (`AKIA`
    key ids, `aws_secret_access_key = ...`), GitHub (`ghp_`, `github_pat_`),
    Slack (`xoxb-`, webhooks), Google (`AIza`) and Hugging Face (`hf_`)
    credentials, JWTs that carry an expiry (`exp` claim), and
    `-----BEGIN ... PRIVATE KEY-----` blocks with a key body. The message
    names the kind and shows only the prefix and four characters. Obvious
    placeholders are skipped: `sk-xxxx...`, `sk-your-key-here`, keys
    containing `example`, `test`, `1234` or `abcd`, AWS's documentation key
    `AKIAIOSFODNN7EXAMPLE`, documentation JWTs without `exp` (jwt.io's
    sample), and key blocks with no body (`-----BEGIN PRIVATE KEY-----\\n...`).

    ## Why is this bad?
    A fine-tuned model memorizes rare strings and can repeat them to anyone.
    A leaked key in a dataset is also a leaked key in the repository holding it.

    ## Example
    ```json
    {"role": "user", "content": "my key is sk-proj-4fQ2...; why does the API return 401?"}
    ```

    ## Fix
    Revoke the credential, then replace it with a placeholder such as
    `sk-...` (or drop the example).
    """
    for m in record.messages:
        for text, pointer in _texts(m):
            found = find_secrets(text)
            if found:
                yield Finding(f"{m.role} message contains a credential: {_summary(found)}", pointer=pointer())


# ---- S002 personal data --------------------------------------------------------------------------

_EMAIL_DOMAIN = re.compile(r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))(?![A-Za-z0-9-])")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._%+-]{0,63})\Z")
# Two-letter country codes, or one of these: `x@self.weights` in code has no real top-level domain.
_GENERIC_TLDS = {
    "com",
    "org",
    "net",
    "edu",
    "gov",
    "mil",
    "int",
    "info",
    "biz",
    "app",
    "dev",
    "tech",
    "online",
    "xyz",
    "site",
    "email",
    "mail",
    "name",
    "pro",
    "mobi",
    "cloud",
    "digital",
    "live",
    "life",
    "shop",
    "store",
    "news",
    "blog",
    "global",
    "group",
    "company",
    "agency",
    "media",
    "studio",
    "design",
    "solutions",
    "services",
    "consulting",
    "health",
    "law",
    "bank",
    "school",
    "university",
    "works",
    "world",
    "one",
    "today",
    "space",
    "website",
    "asia",
    "eu",
    "page",
    "team",
    "network",
    "systems",
    "software",
}
_NOT_TLDS = {"js", "ts", "py", "md", "rs", "go", "sh", "pl", "rb", "cc", "db", "gz"}
_PLACEHOLDER_DOMAINS = {"company.com", "email.com"}
_PLACEHOLDER_LABELS = {
    "example",
    "test",
    "sample",
    "demo",
    "dummy",
    "fake",
    "foo",
    "bar",
    "baz",
    "xyz",
    "host",
    "domain",
    "mydomain",
    "yourdomain",
    "yourcompany",
    "acme",
    "localhost",
    "invalid",
}
_MACHINE_DOMAINS = ("users.noreply.github.com", ".gserviceaccount.com")  # bots and service accounts, no person
_PLACEHOLDER_LOCALS = {
    "user",
    "username",
    "name",
    "yourname",
    "your.name",
    "you",
    "someone",
    "john.doe",
    "jane.doe",
    "johndoe",
    "janedoe",
    "email",
    "youremail",
    "your.email",
    "noreply",
    "no-reply",
    "git",
    "example",
    "test",
    "sample",
    "john_doe",
    "jane_doe",
    "joe_doe",
    "jdoe",
    "john.smith",
    "johnsmith",
    "jane.smith",
    "donotreply",
    "do-not-reply",
    "do_not_reply",
}
# Role accounts are an organization's contact points, not a person's data.
_ROLE_LOCALS = {
    "support",
    "info",
    "contact",
    "help",
    "sales",
    "admin",
    "hello",
    "team",
    "feedback",
    "privacy",
    "security",
    "billing",
    "careers",
    "jobs",
    "press",
    "media",
    "webmaster",
    "postmaster",
    "abuse",
    "office",
    "service",
    "customerservice",
    "enquiries",
    "inquiries",
    "legal",
    "hr",
    "marketing",
    "alerts",
    "alert",
    "notifications",
    "notification",
    "newsletter",
    "news",
    "updates",
    "orders",
}
_TOLL_FREE = {"800", "888", "877", "866", "855", "844", "833"}

_INTL_PHONE = re.compile(r"\+[1-9][\d ().-]{6,22}\d")
_PHONE_SHAPE = re.compile(r"\+\d+(?:(?: ?\(\d{1,5}\) ?|[ .-])\d+)*")
_US_PHONE = re.compile(r"(?:\(([2-9]\d\d)\) ?|\b([2-9]\d\d)([.-]))([2-9]\d\d)[.-](\d{4})(?![\d-])")
# Neither may sit inside a decimal number (`0.4870572300443105`) or a longer digit sequence.
_CARD = re.compile(r"(?<![\w.,-])\d{4}(?:([ -]?)\d{4}\1\d{4}\1\d{1,7}|([ -]?)\d{6}\2\d{5})(?![\w-]|[.,]\d)")
_SSN = re.compile(r"(?<![\w.,-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-]|[.,]\d)")
_NI = re.compile(
    r"(?<![A-Za-z0-9])(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]"
    r" ?(\d\d) ?(\d\d) ?(\d\d) ?[A-D](?![A-Za-z0-9])"
)
_FAKE_SSN = {"123-45-6789", "078-05-1120", "219-09-9999"}
_TEST_CARDS = {
    "4012888888881881",
    "4000056655665556",
    "5105105105105100",
    "5200828282828210",
    "378282246310005",
    "371449635398431",
    "6011000990139424",
    "3530111333300000",
    "3566002020360505",
    "30569309025904",
    "38520000023237",
    "6011111111111117",
    "4111111111111111",
    "4242424242424242",
    "5555555555554444",
}


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card_issuer(d: str) -> str | None:
    n = len(d)
    if d[0] == "4" and n in (13, 16, 19):
        return "Visa"
    if n == 16 and ("51" <= d[:2] <= "55" or "2221" <= d[:4] <= "2720"):
        return "Mastercard"
    if n == 15 and d[:2] in ("34", "37"):
        return "Amex"
    if 16 <= n <= 19 and (d.startswith("6011") or d[:2] == "65" or "644" <= d[:3] <= "649"):
        return "Discover"
    if 16 <= n <= 19 and "3528" <= d[:4] <= "3589":
        return "JCB"
    if n == 14 and (d[:2] in ("36", "38") or "300" <= d[:3] <= "305"):
        return "Diners Club"
    return None


def _emails(text: str):
    for m in _EMAIL_DOMAIN.finditer(text):
        domain, tld = m.group(1).lower(), m.group(2).lower()
        local = _EMAIL_LOCAL.search(text, max(0, m.start() - 64), m.start())
        if not local or not (len(tld) == 2 and tld not in _NOT_TLDS or tld in _GENERIC_TLDS):
            continue
        labels = domain.split(".")[:-1]
        if (
            domain in _PLACEHOLDER_DOMAINS
            or domain.endswith(_MACHINE_DOMAINS)
            or any(len(x) == 1 or x in _PLACEHOLDER_LABELS for x in labels)
        ):
            continue
        name = local.group(0)
        if name.lower() in _PLACEHOLDER_LOCALS or name.lower() in _ROLE_LOCALS:
            continue
        yield f"e-mail address {name[0]}***@{m.group(1)}"


def _sequential(digits: str) -> bool:
    """Obviously made-up digits: the last seven run up or down by one (`4567890`, `9876543`) or repeat one."""
    tail = digits[-7:]
    steps = {(int(b) - int(a)) % 10 for a, b in zip(tail, tail[1:])}
    return len(steps) == 1 and steps <= {0, 1, 9}


def _phones(text: str):
    if "+" in text:
        for m in _INTL_PHONE.finditer(text):
            before = text[m.start() - 1] if m.start() else " "
            digits = re.sub(r"\D", "", m.group(0))
            if (
                before.isalnum()
                or before in "+)]_."
                or not 8 <= len(digits) <= 15
                or not _PHONE_SHAPE.fullmatch(m.group(0))
            ):
                continue
            if digits.startswith("1") and len(digits) == 11 and (digits[4:7] == "555" or digits[1:4] in _TOLL_FREE):
                continue
            if _sequential(digits):
                continue
            yield f"phone number ***{digits[-2:]}"
    for m in _US_PHONE.finditer(text):
        area, exchange, line = m.group(1) or m.group(2), m.group(4), m.group(5)
        if m.group(3) and text[m.end() - 5] != m.group(3):
            continue  # mixed separators: 415-555.2671 is no phone format
        if exchange == "555" or area in _TOLL_FREE or _sequential(area + exchange + line):
            continue
        yield f"phone number ***{line[-2:]}"


def _cards(text: str):
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if not 13 <= len(digits) <= 19 or digits in _TEST_CARDS or len(set(digits)) <= 3:
            continue
        issuer = _card_issuer(digits)
        if issuer and _luhn(digits):
            yield f"{issuer} card number ending {digits[-4:]}"


def _ssns(text: str):
    if "-" in text:
        for m in _SSN.finditer(text):
            if m.group(0) not in _FAKE_SSN and len(set(m.group(0))) > 4:  # 111-22-3333: a sample
                yield "US social security number ***-**-****"


def _ni_numbers(text: str):
    for m in _NI.finditer(text):
        if "".join(m.groups()) != "123456":
            yield "UK National Insurance number"


# Runs of digits and separators: the precise patterns run on each run (with a few characters around it, for a
# `+`, `(` or the letters of a National Insurance number), never on the whole text.
_NUMBER_RUN = re.compile(r"[0-9][0-9 ().-]{4,}[0-9]")


def _has_digit(text: str) -> bool:
    return (
        "0" in text
        or "1" in text
        or "2" in text
        or "3" in text
        or "4" in text
        or "5" in text
        or "6" in text
        or "7" in text
        or "8" in text
        or "9" in text
    )


def find_pii(text: str) -> list[str]:
    """Redacted descriptions of the personal data in a text."""
    out: list[str] = []
    if "@" in text:
        out += _emails(text)
    if _has_digit(text):
        for run in _NUMBER_RUN.finditer(text):
            start, end = run.span()
            if end - start >= 9:
                # the digits the window can hold, an upper bound: each format needs a number of them
                g, lead = run.group(), text[max(0, start - 2) : start]
                digits = (
                    len(g)
                    - g.count(" ")
                    - g.count("-")
                    - g.count(".")
                    - g.count("(")
                    - g.count(")")
                    + lead[:1].isdecimal()
                    + lead[1:].isdecimal()
                )
                if digits >= 8:
                    window = lead + g
                    if digits >= 10 or "+" in lead:
                        out += _phones(window)
                    if digits >= 13:
                        out += _cards(window)
                    if digits >= 9:
                        out += _ssns(window)
            if text[end : end + 2].strip()[:1] in ("A", "B", "C", "D") and start >= 2:
                out += _ni_numbers(text[max(0, start - 4) : end + 3])
    return list(dict.fromkeys(out)) if out else out


# an e-mail's `@`; a `_NUMBER_RUN` long enough for a phone, card or SSN, or followed by a National Insurance
# letter (`_NI` allows only a space between them)
@record_rule(
    "S002",
    "pii",
    "warning",
    trigger=Trigger(("@",), pattern=r"[0-9][0-9 ().-]{7,}[0-9]|[0-9][0-9 ().-]{4,}[0-9] ?[A-D]"),
)
def pii(record, ctx):
    """Personal data in a message: e-mail addresses, phone numbers, card numbers, national ids.

    ## What it does
    Scans every message (and tool-call arguments) for e-mail addresses,
    international (`+44 20 7946 0958`) and US (`(415) 555-2671`,
    `415-867-5309`) phone numbers, payment card numbers (13-19 digits in a
    card's grouping, a known issuer prefix and a valid Luhn checksum), US
    social security numbers (valid ranges only) and UK National Insurance
    numbers. The message shows only a redacted form. Placeholders and
    addresses of no person are skipped: placeholder domains (`example.com`,
    `test.com`, `*.test`, `domain.com`...), addresses such as `user@`,
    `john.doe@`, `git@`, role accounts (`support@`, `info@`...), fictional
    `555` and toll-free phone numbers, sequential digits (`123-456-7890`,
    `987-654-3210`, `+1 234 567 8901`), payment processors'
    documented test cards (`4242 4242 4242 4242`...) and sample SSNs
    (`123-45-6789`, `111-22-3333`). Dates, versions, decimals, plain numbers
    and maths do not match the formats.

    ## Why is this bad?
    A fine-tuned model can regurgitate personal data from its training set,
    and the dataset itself then falls under privacy law (GDPR, CCPA).

    ## Example
    ```json
    {"role": "user", "content": "Mail the invoice to maria.lopez@gmail.com, card 4539 1488 0343 6467"}
    ```

    ## Fix
    Replace the data with placeholders or synthetic values (`user@example.com`)
    or drop the example.
    """
    for m in record.messages:
        for text, pointer in _texts(m):
            if len(text) < 8:
                continue
            found = find_pii(text)
            if found:
                yield Finding(f"{m.role} message contains personal data: {_summary(found)}", pointer=pointer())
