"""The operator console in a real browser (issue #18's acceptance walk).

Drives Debian's Chromium through Playwright (``executable_path``; no browser download):
a wrong token refused, a keyboard-only login, a run opened, two runs compared, a canary
started and its weight raised, traffic sent, the deployment page watched as it changes,
the canary promoted, a re-distilled version approved from its evidence into a canary, and
that canary rolled back. Forged and cross-site forms are refused. Every page is checked by
axe-core (from npm) for serious or critical accessibility violations.

Run by ``crates/cli/tests/it/console_browser.rs``, which prepares the registry and the
server and then checks the audit trail with the CLI. Prints one JSON line with what it saw.
"""

import argparse
import json
import sys
import urllib.request

from playwright.sync_api import sync_playwright

SERIOUS = {"serious", "critical"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", required=True, help="the server, http://host:port")
    ap.add_argument("--token", required=True, help="the admin token")
    ap.add_argument("--axe", required=True, help="axe.min.js from the axe-core npm package")
    ap.add_argument("--chromium", required=True, help="the Chromium executable")
    ap.add_argument("--traffic", required=True, help="a JSON inference request to send")
    ap.add_argument("--screenshots", help="a folder to save a screenshot of each page in")
    args = ap.parse_args()
    base = args.base.rstrip("/")
    axe_source = open(args.axe, encoding="utf-8").read()
    request_body = open(args.traffic, "rb").read()
    seen = {"axe": {}, "steps": []}

    def step(name: str) -> None:
        seen["steps"].append(name)
        print(f"step: {name}", file=sys.stderr, flush=True)

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        # The console's pages forbid every script (CSP); axe is injected past that, the
        # way a browser extension would be.
        context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 900})
        page = context.new_page()

        def accessible(name: str) -> None:
            page.add_script_tag(content=axe_source)
            checked = page.evaluate(
                "async () => { const r = await axe.run(document);"
                " return {passes: r.passes.length, violations: r.violations.map(v => ({id: v.id,"
                " impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))}; }"
            )
            # Rules that passed prove axe looked at the page, not at nothing.
            assert checked["passes"] >= 10, f"{name}: axe passed only {checked['passes']} rules"
            result = checked["violations"]
            serious = [v for v in result if v["impact"] in SERIOUS]
            seen["axe"][name] = {"passes": checked["passes"], "violations": result, "serious": serious}
            assert not serious, f"{name}: serious accessibility violations: {json.dumps(serious, indent=1)}"
            if args.screenshots:
                page.screenshot(path=f"{args.screenshots}/console-{name}.png", full_page=True)

        def go(path: str, status: int = 200):
            response = page.goto(base + path)
            assert response is not None and response.status == status, (path, response and response.status)
            return response

        def confirm(reason: str) -> None:
            """On a confirmation page: the reason, the tick and Confirm, by keyboard."""
            assert "What will change" in page.content()
            page.focus("#why")
            page.keyboard.type(reason)
            page.keyboard.press("Tab")
            page.keyboard.press("Space")
            page.keyboard.press("Tab")
            with page.expect_navigation():
                page.keyboard.press("Enter")
            assert "it is in the audit trail" in page.content(), page.content()

        # 1. A wrong token is refused.
        go("/ui/login")
        accessible("login")
        page.fill("#name", "Ana")
        page.fill("#token", "not-the-token")
        with page.expect_navigation() as nav:
            page.click("form[action='/ui/login'] button")
        assert nav.value.status == 401, nav.value.status
        assert "That is not the admin token" in page.content()
        step("wrong token refused")

        # 2. Logging in with the keyboard alone.
        go("/ui/login?next=/ui/runs")
        page.focus("#name")
        page.keyboard.type("Ana")
        page.keyboard.press("Tab")
        page.keyboard.type(args.token)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url.endswith("/ui/runs"), page.url
        cookie = [c for c in context.cookies() if c["name"] == "distillery_console"][0]
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict", cookie
        assert page.evaluate("document.cookie").find("distillery_console") < 0
        step("logged in by keyboard; the cookie is HttpOnly and SameSite=Strict")

        # 3. Runs: open one, compare two.
        accessible("runs")
        first = page.locator("table a[href^='/ui/runs/']").first
        with page.expect_navigation():
            first.click()
        assert page.locator("iframe").count() == 1
        accessible("run")
        go("/ui/runs")
        with page.expect_navigation():
            page.click("form[action='/ui/compare'] button")
        assert "Metrics" in page.content() and "recipe" in page.content().lower()
        accessible("compare")
        step("a run opened and two runs compared")
        go("/ui/models")
        accessible("models")
        go("/ui/models/r")
        accessible("model")

        # 4. A canary, then a larger weight.
        go("/ui/deployments")
        accessible("deployments")
        page.select_option("#v-r", "2")
        page.fill("#cw-r", "10")
        with page.expect_navigation():
            page.click("form:has(#v-r) button")
        accessible("confirm")
        confirm("first look at version 2")
        assert "version 2</strong> on 10% of traffic" in page.content()
        page.fill("#w-r", "50")
        with page.expect_navigation():
            page.click("form:has(#w-r) button")
        confirm("version 2 looks fine at 10%")
        assert "version 2</strong> on 50% of traffic" in page.content()
        step("canary started at 10% and raised to 50%")

        # 5. Traffic, and the deployment page changes with it.
        for _ in range(40):
            req = urllib.request.Request(
                base + "/v2/models/r/infer",
                data=request_body,
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req) as r:
                assert r.status == 200
        go("/ui/deployments")
        rows = page.locator("table tbody tr").all_inner_texts()
        canary_rows = [r for r in rows if "\tcanary\t" in r]
        stable_rows = [r for r in rows if "\tstable\t" in r]
        assert canary_rows and stable_rows, rows
        assert canary_rows[0].split("\t")[-1].endswith("%"), canary_rows  # disagreement measured
        seen["traffic_rows"] = rows
        accessible("deployments-live")
        step("the deployment page shows live traffic for stable and canary")

        # 6. Promote.
        with page.expect_navigation():
            page.click("form:has(input[value='promote']) button")
        confirm("version 2 held up under half the traffic")
        assert "Stable (production): <strong>version 2</strong>" in page.content()
        assert "Canary: none" in page.content()
        step("canary promoted")

        # 7. Health.
        go("/ui/health")
        accessible("health")
        drift_link = page.locator("td a[href^='/ui/health/']").first
        if drift_link.count():
            with page.expect_navigation():
                drift_link.click()
            assert "Drift report" in page.content()
            accessible("drift-window")
        step("health and a window's drift report")

        # 8. The re-distilled version waiting for approval: evidence, then approve.
        go("/ui/approvals")
        content = page.content()
        assert "waiting for a person" in content, content
        assert "Old and new, side by side" in content
        assert "The alert that started it" in content
        human_before = int(page.inner_text("#human"))
        # The approval cannot be skipped by starting the waiting version as a canary.
        csrf = page.locator("input[name=csrf]").first.get_attribute("value") if page.locator("input[name=csrf]").count() else None
        if csrf is None:
            go("/ui/login")
            csrf = page.locator("input[name=csrf]").first.get_attribute("value")
            go("/ui/approvals")
        skipped = page.request.post(
            base + "/ui/act/r",
            form={"action": "canary", "version": "3", "weight": "10", "why": "skip the queue", "confirmed": "yes", "csrf": csrf},
        )
        assert skipped.status == 400 and "approve it first" in skipped.text(), (skipped.status, skipped.text())
        automatic = int(page.inner_text("#automatic"))
        accessible("approvals")
        with page.expect_navigation():
            page.click("form:has(input[value='approve']) button")
        confirm("fidelity recovered on the drifted traffic")
        assert "Nothing waits for approval" in page.content()
        assert int(page.inner_text("#human")) > human_before
        assert int(page.inner_text("#automatic")) == automatic
        step("the waiting version approved into a canary")

        # 9. Roll the approved canary back.
        go("/ui/deployments")
        assert "version 3</strong> on 10% of traffic" in page.content()
        with page.expect_navigation():
            page.click("form:has(input[value='rollback']) button")
        confirm("rolling back to compare again tomorrow")
        assert "Canary: none" in page.content()
        step("the approved canary rolled back")

        # 10. Forged and cross-site forms change nothing.
        forged = page.request.post(
            base + "/ui/act/r",
            form={"action": "canary", "version": "3", "weight": "100", "why": "x", "confirmed": "yes", "csrf": "forged"},
        )
        assert forged.status == 403, forged.status
        csrf = page.locator("input[name=csrf]").first.get_attribute("value") if page.locator("input[name=csrf]").count() else None
        if csrf is None:
            go("/ui/login")
            csrf = page.locator("input[name=csrf]").first.get_attribute("value")
        cross = page.request.post(
            base + "/ui/act/r",
            form={"action": "canary", "version": "3", "weight": "100", "why": "x", "confirmed": "yes", "csrf": csrf},
            headers={"Origin": "https://evil.example"},
        )
        assert cross.status == 403, cross.status
        rebound = page.request.get(base + "/ui/deployments", headers={"Host": "evil.example"})
        assert rebound.status == 421, rebound.status
        other = browser.new_context()
        anonymous = other.request.post(
            base + "/ui/act/r",
            form={"action": "canary", "version": "3", "weight": "100", "why": "x", "confirmed": "yes", "csrf": csrf},
        )
        assert anonymous.status == 401, anonymous.status
        go("/ui/deployments")
        assert "Canary: none" in page.content()
        step("forged, cross-site, rebound and anonymous requests refused")
        browser.close()
    print(json.dumps(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
