"""Password rules of the store, beside Django's own validators (settings.AUTH_PASSWORD_VALIDATORS), the
ZIP code rule of every shipping address (the address book, checkout and the orders API), and the rules
that tell one e-mail address from a lookalike (registration and staff invitations)."""
import re
import unicodedata

from django.core.exceptions import ValidationError


class NotOnlyWhitespacePasswordValidator:
    """Refuses a password made only of spaces, tabs or line breaks: Django's length rule counts them."""

    message = "Your password can't be only spaces."

    def validate(self, password: str, user=None) -> None:
        if not password.strip():
            raise ValidationError(self.message, code="password_only_whitespace")

    def get_help_text(self) -> str:
        return "Your password can't be only spaces."


_ZIP = re.compile(r"^\d{5}(-\d{4})?\Z", re.ASCII)  # \d alone matches any script's digits


def validate_zip_code(value: str) -> None:
    if not _ZIP.match(value or ""):
        raise ValidationError("Enter a ZIP code like 12345 or 12345-6789.", code="invalid_zip")


MIXED_SCRIPTS = ("This e-mail address mixes alphabets ({scripts}) in its {part}, as lookalike addresses do: "
                 "type it again in one alphabet.")


def _scripts(text: str) -> set[str]:
    """The scripts of `text`'s letters, by their Unicode names ("LATIN SMALL LETTER A" → LATIN)."""
    return {unicodedata.name(char, "UNKNOWN").split(" ")[0] for char in text if unicodedata.category(char)[0] == "L"}


def validate_email_one_script(email: str) -> None:
    """Refuses an address whose part before or after the "@" mixes scripts, e.g. a Cyrillic "а"
    in "exаmple.com": each part is written in one alphabet (Unicode's character names)."""
    local, _, domain = unicodedata.normalize("NFKC", email or "").rpartition("@")
    for part, text in (("name before the @", local), ("domain", domain)):
        scripts = _scripts(text)
        if len(scripts) > 1:
            raise ValidationError(MIXED_SCRIPTS.format(scripts=" and ".join(sorted(s.title() for s in scripts)),
                                                       part=part), code="mixed_scripts")


def _domain_ascii(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:  # not a valid IDN: compared as written
        return domain


def email_key(email: str) -> str:
    """An address as compared for duplicates: Unicode compatibility forms folded (NFKC: fullwidth
    "ｅ" is "e"), case folded (casefold: "ß" is "ss") and the domain in its ASCII (IDNA) form
    ("bücher.example" is "xn--bcher-kva.example"). Never stored: mail goes to the address as typed."""
    local, _, domain = unicodedata.normalize("NFKC", (email or "").strip()).casefold().rpartition("@")
    return f"{local}@{_domain_ascii(domain)}"


def email_spellings(email: str) -> set[str]:
    """The stored spellings (accounts.signin.email_normalize: stripped, lower case) under which an
    account may already hold `email`: as given, folded (email_key) and with its domain in Unicode."""
    given = (email or "").strip().lower()
    key = email_key(email)
    local, _, domain = key.rpartition("@")
    try:
        unicode_domain = domain.encode("ascii").decode("idna")
    except UnicodeError:
        unicode_domain = domain
    nfkc_local = unicodedata.normalize("NFKC", given.rpartition("@")[0])
    return {given, key, f"{local}@{unicode_domain}", f"{nfkc_local}@{domain}", f"{nfkc_local}@{unicode_domain}"}
