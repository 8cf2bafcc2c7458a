import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_it_redirects_to_login_and_shows_the_base_layout(page, live_server, django_user_model):
    django_user_model.objects.create_user("triager", password="a-long-passphrase-1")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")
    page.get_by_label("Username").fill("triager")
    page.get_by_label("Password").fill("a-long-passphrase-1")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_test_id("current-user")).to_contain_text("triager")
    expect(page.locator("nav.navbar")).to_be_visible()
    # Vendored Bootstrap is loaded and applied (navbar gets its dark background from bootstrap.min.css).
    background = page.locator("nav.navbar").evaluate("el => getComputedStyle(el).backgroundColor")
    assert background == "rgb(33, 37, 41)"
    assert page.evaluate("typeof window.htmx") == "object"


def test_it_logs_out(logged_in_page, live_server):
    logged_in_page.get_by_role("button", name="Log out").click()
    expect(logged_in_page).to_have_url(f"{live_server.url}/login/")
