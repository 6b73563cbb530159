"""The code digest in every fragment key (store/fragments.py) is taken at each start-up: no file
in the project's folder may stop a process from starting."""


def test_an_editors_lock_file_or_an_unreadable_file_does_not_stop_the_code_digest(tmp_path, settings):
    from store import fragments

    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "views.py").write_text("VIEW = 1\n")
    (tmp_path / "app" / ".#views.py").symlink_to(tmp_path / "gone" / "views.py")  # Emacs' lock: dangling
    (tmp_path / "app" / "broken.html").symlink_to(tmp_path / "gone" / "broken.html")
    settings.BASE_DIR = tmp_path
    settings.STATIC_ROOT = None

    digest = fragments._code_digest()

    (tmp_path / "app" / "views.py").write_text("VIEW = 2\n")
    assert fragments._code_digest() != digest  # still a digest of the code that is there
