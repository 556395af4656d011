"""A merchant builds a variant matrix and edits it in Chromium: inline rows, bulk prices, a conflict."""
from playwright.sync_api import expect

from tests.browser.test_admin_shell import _shot, _sign_in


def _new_product(page, base):
    page.goto(f"{base}/admin/products/new")
    page.fill("input[name=title]", "Cashmere Coat")
    page.click("button:has-text('Create product')")
    expect(page.locator("#product-title")).to_have_text("Cashmere Coat")
    names, values = page.locator("input[name=option_name]"), page.locator("input[name=option_values]")
    names.nth(0).fill("Size")
    values.nth(0).fill("S, M, L")
    names.nth(1).fill("Colour")
    values.nth(1).fill("Camel, Charcoal")
    page.click("button:has-text('Save options')")
    expect(page.locator(".flash")).to_contain_text("Options saved")
    page.fill("input[name=base_price]", "1200")
    page.click("#generate-variants")
    expect(page.locator("#variant-count")).to_have_text("6")


def test_matrix_inline_edit_bulk_and_conflict(live_server, page_factory, make_user, make_store):
    merchant = make_user("merchant", store=make_store("lune", currency="eur"))
    page = page_factory()
    _sign_in(page, live_server, merchant.email)
    _new_product(page, live_server)
    rows = page.locator("#variant-table tbody tr")
    expect(rows).to_have_count(6)
    expect(rows.first).to_contain_text("€1,200.00")

    # Inline edit: click the row, type, Enter saves; the row comes back displayed.
    rows.first.locator("td").nth(1).click()
    editing = page.locator("tr.editing")
    expect(editing).to_have_count(1)
    editing.locator("input[name=price]").fill("1150")
    editing.locator("input[name=price]").press("Enter")
    expect(page.locator("tr.editing")).to_have_count(0)
    expect(rows.first).to_contain_text("€1,150.00")

    # A validation error stays in the row, next to the field; Escape cancels.
    rows.nth(1).focus()
    rows.nth(1).press("Enter")
    page.locator("tr.editing input[name=compare_at]").fill("10")
    page.locator("tr.editing input[name=compare_at]").press("Enter")
    expect(page.locator("tr.editing .field-error")).to_contain_text("higher than the price")
    page.locator("tr.editing input[name=compare_at]").press("Escape")
    expect(page.locator("tr.editing")).to_have_count(0)
    _shot(page, "variant-editor")

    # Bulk: select three rows, lower their price by 10 %.
    for index in (3, 4, 5):
        rows.nth(index).locator("input[name=variant_ids]").check()
    page.select_option("select[name=operation]", "percent")
    page.fill("#bulk-form input[name=value]", "-10")
    page.click("button:has-text('Apply to selected')")
    expect(page.locator(".toast", has_text="3 variants updated")).to_be_visible()
    expect(page.locator("#variant-table tbody tr").nth(5)).to_contain_text("€1,080.00")

    # Conflict: a second session saves the same variant first.
    other = page_factory()
    _sign_in(other, live_server, merchant.email)
    other.goto(page.url)
    target = "#variant-table > tbody > tr:nth-child(3)"
    page.locator(target).locator("a.row-edit").click()
    other.locator(target).locator("a.row-edit").click()
    other.locator("tr.editing input[name=price]").fill("999")
    other.locator("tr.editing input[name=price]").press("Enter")
    expect(other.locator("tr.editing")).to_have_count(0)
    page.locator("tr.editing input[name=price]").fill("1111")
    page.locator("tr.editing input[name=price]").press("Enter")
    conflict = page.locator("tr.conflict")
    expect(conflict).to_contain_text("changed by someone else")
    expect(conflict).to_contain_text("999.00")
    expect(conflict).to_contain_text("1111")
    _shot(page, "variant-conflict")
    conflict.locator("button:has-text('Keep mine')").click()
    expect(page.locator(target)).to_contain_text("€1,111.00")
    assert not [e for e in page.console_errors if "Content Security Policy" in e], page.console_errors
