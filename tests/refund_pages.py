"""The admin's refund form as staff use it: posted once for its confirmation page, then
confirmed with what that page posts (its hidden fields: the form again, what it showed, post=yes)."""
import re
from html import unescape


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs of a page's forms, as the browser posts them."""
    found = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    return {name: unescape(value) for name, value in found}


def refund_previewed_and_confirmed(client, url: str, data: dict, *, follow: bool = True):
    """POST `data` (the order page's refund form) to `url`, then press Yes on the confirmation
    page; a form refused before its confirmation answers as it is (redirect and message)."""
    preview = client.post(url, data, follow=follow)
    if preview.status_code != 200 or getattr(preview, "redirect_chain", None) or "plan" not in (preview.context or {}):
        return preview
    return client.post(url, hidden_fields(preview.content.decode()), follow=follow)
