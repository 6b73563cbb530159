"""Every page carries the Content-Security-Policy that the settings name, as they are now."""


def directives(header: str) -> dict[str, str]:
    """A policy header as {directive: its sources}; django-csp writes the directives in no fixed order."""
    return dict((part.strip() + " ").split(" ", 1) for part in header.split(";") if part.strip())


def test_a_page_carries_the_settings_policy_and_a_changed_policy_shows_at_once(client, catalog, settings):
    assert directives(client.get("/").headers["Content-Security-Policy"])["img-src"].strip() == "'self' data:"

    policy = {"DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"],
                             "img-src": ["'self'", "data:", "https://cdn.example.com"]}}
    settings.CONTENT_SECURITY_POLICY = policy
    for path in ("/", "/api/products"):
        shown = directives(client.get(path).headers["Content-Security-Policy"])
        assert shown["img-src"].strip() == "'self' data: https://cdn.example.com", path

    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"script-src": ["'none'"]}}
    page = client.get("/products/prod-001/")
    assert "https://cdn.example.com" in page.headers["Content-Security-Policy"]
    assert directives(page.headers["Content-Security-Policy-Report-Only"])["script-src"].strip() == "'none'"
