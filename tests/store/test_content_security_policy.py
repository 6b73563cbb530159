"""Every page carries the Content-Security-Policy that the settings name, as they are now."""


def test_a_page_carries_the_settings_policy_and_a_changed_policy_shows_at_once(client, catalog, settings):
    assert "img-src 'self' data:;" in client.get("/").headers["Content-Security-Policy"]

    policy = {"DIRECTIVES": {**settings.CONTENT_SECURITY_POLICY["DIRECTIVES"],
                             "img-src": ["'self'", "data:", "https://cdn.example.com"]}}
    settings.CONTENT_SECURITY_POLICY = policy
    assert "img-src 'self' data: https://cdn.example.com;" in client.get("/").headers["Content-Security-Policy"]
    assert "img-src 'self' data: https://cdn.example.com;" in client.get("/api/products").headers["Content-Security-Policy"]

    settings.CONTENT_SECURITY_POLICY_REPORT_ONLY = {"DIRECTIVES": {"script-src": ["'none'"]}}
    page = client.get("/products/prod-001/")
    assert "https://cdn.example.com" in page.headers["Content-Security-Policy"]
    assert "script-src 'none'" in page.headers["Content-Security-Policy-Report-Only"]
