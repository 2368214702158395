"""Steps the browser tests share (Playwright's sync API, against `live_studio`)."""

FACTORY_PASSWORD = "correct horse battery staple"  # accounts.tests.factories.UserFactory's


def sign_in(page, studio: str, username: str, *, next_path: str = "/", ready: str = "main") -> None:
    """Sign in through the login form as a factory user, then wait for `ready` on the page it leads to."""
    page.goto(f"{studio}/accounts/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", FACTORY_PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_selector(ready)
