//! Issue #18 (first part): `distillery ui` serves the runs, a run, two runs compared, the
//! models and one model's versions, audit trail and lineage, to a plain HTTP client.

use crate::serve::{get, start};
use crate::util::{setup, stderr};

#[test]
fn the_console_shows_runs_comparisons_and_models() {
    let s = setup();
    s.trained_student();
    // A second run with another seed: a different student to compare.
    let recipe = std::fs::read_to_string(s.path("r.toml")).unwrap();
    let other = s.write("r2.toml", &recipe.replacen("seed = 11", "seed = 12", 1));
    let run = s.cmd(&["run", other.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let promote = s.cmd(&[
        "registry",
        "promote",
        "r/1",
        "--to",
        "production",
        "--why",
        "first",
    ]);
    assert_eq!(promote.status.code(), Some(0), "{}", stderr(&promote));
    let runs = s.runs();
    let ids: Vec<String> = runs
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    let c = start(s.dir.path(), &["ui", "--port", "0"], &[]);
    let base = c.base.trim_end_matches("/ui").to_string();
    let b = &base;

    let (status, page) = get(&format!("{b}/ui/runs"));
    assert_eq!(status, 200);
    for id in &ids {
        assert!(page.contains(id.as_str()), "{id} listed");
    }
    assert!(page.contains("role=\"status\""), "the summary");
    assert!(
        !page.contains("Needs attention"),
        "both runs passed their gates"
    );
    assert!(
        page.contains("how often the student agrees with its teacher"),
        "explained"
    );
    let (_, filtered) = get(&format!("{b}/ui/runs?q=no-such-model"));
    assert!(filtered.contains("0 of 2 runs"), "{filtered}");
    let (_, sorted) = get(&format!("{b}/ui/runs?sort=fidelity&dir=asc"));
    assert!(sorted.contains("aria-sort=\"ascending\""));

    let (status, one) = get(&format!("{b}/ui/runs/{}", ids[0]));
    assert_eq!(status, 200);
    assert!(
        one.contains("<h2>Gates</h2>") && one.contains("declares no gates"),
        "the sample recipe has no gates, and the page says so: {one}"
    );
    assert!(one.contains(&format!("src=\"/ui/runs/{}/report.html\" sandbox", ids[0])));
    let (status, report) = get(&format!("{b}/ui/runs/{}/report.html", ids[0]));
    assert_eq!(status, 200);
    assert!(report.contains("<html"), "the run's own report");

    let (status, compared) = get(&format!("{b}/ui/compare?a={}&b={}", ids[0], ids[1]));
    assert_eq!(status, 200);
    assert!(compared.contains("<h2>Metrics</h2>") && compared.contains("Fidelity"));
    assert!(
        compared.contains("class=\"del\">- seed = 11")
            && compared.contains("class=\"add\">+ seed = 12"),
        "the recipe change: {compared}"
    );

    let (status, models) = get(&format!("{b}/ui/models"));
    assert_eq!(status, 200);
    assert!(models.contains("href=\"/ui/models/r\""), "{models}");
    let (status, model) = get(&format!("{b}/ui/models/r"));
    assert_eq!(status, 200);
    assert!(model.contains("<svg role=\"img\""), "the lineage graph");
    assert!(model.contains("@production"));
    assert!(
        model.contains("promote") && model.contains("first"),
        "the audit trail with its reason"
    );

    // Without a server beside it, the console shows what the registry records and only reads.
    let (status, deployments) = get(&format!("{b}/ui/deployments"));
    assert_eq!(status, 200);
    assert!(
        deployments.contains("not beside a server") && deployments.contains("<td>1</td>"),
        "the registry's production version: {deployments}"
    );
    let (_, login) = get(&format!("{b}/ui/login"));
    assert!(login.contains("This console only reads"), "{login}");
    let (status, approvals) = get(&format!("{b}/ui/approvals"));
    assert_eq!(status, 200);
    assert!(
        approvals.contains("Nothing waits for approval"),
        "{approvals}"
    );
    let (_, health) = get(&format!("{b}/ui/health"));
    assert!(
        health.contains("Live monitoring is not running here"),
        "{health}"
    );
    let act = ureq::post(&format!("{b}/ui/act/r"))
        .config()
        .http_status_as_error(false)
        .build()
        .send_form([
            ("action", "promote"),
            ("why", "x"),
            ("confirmed", "yes"),
            ("csrf", "x"),
        ])
        .unwrap();
    assert_eq!(act.status().as_u16(), 401, "no session, no action");

    // The same pages beside the inference API on `distillery serve --runs`.
    let served = crate::serve::serve_env(s.dir.path(), &["--no-log", "--runs", "runs"], &[]);
    let (status, page) = get(&format!("{}/ui/runs", served.base));
    assert_eq!(status, 200);
    assert!(page.contains(ids[1].as_str()));
    assert_eq!(get(&format!("{}/v2/health/ready", served.base)).0, 200);
    served.stop();

    // What does not exist is a 404 page that says so, never a file outside the runs.
    for path in [
        "/ui/runs/nope",
        "/ui/runs/..%2F..%2Fetc/report.html",
        "/ui/models/nope",
        "/ui/compare?a=x&b=y",
    ] {
        let (status, body) = get(&format!("{b}{path}"));
        assert_eq!(status, 404, "{path}");
        assert!(body.contains("Not found"), "{path}: {body}");
    }
}
