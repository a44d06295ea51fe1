//! Issue #16: a served model protected. Per-client rate limits and quotas on inference
//! (`[limits]` in serve.toml): 429 with Retry-After beyond them, counted in /metrics,
//! other clients and routes unhurt. Personal data hashed, masked or dropped before the
//! prediction log, in owner-only files.

use crate::serve::{get, one_row, serve_env};
use crate::util::setup;

fn infer(url: &str, token: Option<&str>) -> (u16, Option<String>, serde_json::Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.post(url).header("content-type", "application/json");
    if let Some(t) = token {
        request = request.header("authorization", &format!("Bearer {t}"));
    }
    let mut r = request.send(one_row("q")).unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    let status = r.status().as_u16();
    let body = r.body_mut().read_to_string().unwrap();
    (
        status,
        retry,
        serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
    )
}

#[test]
fn a_client_past_its_quota_gets_429_with_retry_after_and_others_are_served() {
    let s = setup();
    s.promoted_student();
    // A slow refill (one request per 100 s) and a burst of 3 make the bucket the limit;
    // a quota of 4 per hour then stops a client the bucket would let through.
    let config = s.write(
        "serve.toml",
        "[limits]\nrequests_per_second = 0.01\nburst = 3\nquota = 4\nquota_window_s = 3600\n",
    );
    let server = serve_env(
        s.dir.path(),
        &["--no-log", "--config", config.to_str().unwrap()],
        &[],
    );
    let url = format!("{}/v2/models/r/infer", server.base);
    for i in 0..3 {
        let (status, _, body) = infer(&url, Some("alice"));
        assert_eq!(status, 200, "request {i}: {body}");
    }
    let (status, retry, body) = infer(&url, Some("alice"));
    assert_eq!(status, 429, "{body}");
    let retry: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((1..=100).contains(&retry), "Retry-After {retry}");
    assert!(
        body["error"].as_str().unwrap().contains("rate limit"),
        "{body}"
    );
    // Another token has its own bucket; health and metadata are never limited.
    assert_eq!(infer(&url, Some("bob")).0, 200);
    assert_eq!(get(&format!("{}/v2/health/ready", server.base)).0, 200);
    assert_eq!(get(&format!("{}/v2/models/r", server.base)).0, 200);
    // The refusals are counted.
    let (_, metrics) = get(&format!("{}/metrics", server.base));
    assert!(
        metrics.contains("distillery_requests_limited_total{reason=\"rate\"} 1"),
        "{metrics}"
    );
    // Bad limits are refused at start-up with exit 2.
    let bad = s.write("bad.toml", "[limits]\nrequests_per_second = 0\n");
    let out = s.cmd(&["serve", "--port", "0", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        crate::util::stderr(&out).contains("requests_per_second"),
        "{}",
        crate::util::stderr(&out)
    );
}

#[test]
fn the_quota_holds_once_the_bucket_would_allow() {
    let s = setup();
    s.promoted_student();
    let config = s.write(
        "serve.toml",
        "[limits]\nrequests_per_second = 1000\nquota = 2\nquota_window_s = 3600\n",
    );
    let server = serve_env(
        s.dir.path(),
        &["--no-log", "--config", config.to_str().unwrap()],
        &[],
    );
    let url = format!("{}/v2/models/r/infer", server.base);
    assert_eq!(infer(&url, None).0, 200);
    assert_eq!(infer(&url, None).0, 200);
    let (status, retry, body) = infer(&url, None);
    assert_eq!(status, 429, "{body}");
    assert!(body["error"].as_str().unwrap().contains("quota"), "{body}");
    let retry: u64 = retry.unwrap().parse().unwrap();
    assert!(retry > 3000 && retry <= 3600, "{retry}");
}

#[test]
fn personal_data_is_hashed_masked_or_dropped_before_the_log_and_files_are_private() {
    let s = setup();
    s.promoted_student();
    let config = s.write(
        "serve.toml",
        "[log.pii]\nworkclass = \"hash\"\neducation = \"drop\"\nnative-country = \"mask\"\n",
    );
    let server = serve_env(s.dir.path(), &["--config", config.to_str().unwrap()], &[]);
    let (_, meta) = get(&format!("{}/v2/models/r", server.base));
    let meta: serde_json::Value = serde_json::from_str(&meta).unwrap();
    let value = |name: &str| match name {
        "workclass" => serde_json::json!("Private"),
        "education" => serde_json::json!("Bachelors"),
        "native-country" => serde_json::json!("United-States"),
        _ => serde_json::json!(1.0),
    };
    let inputs: Vec<serde_json::Value> = meta["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let name = i["name"].as_str().unwrap();
            let data = if i["datatype"] == "BYTES" && value(name).is_number() {
                serde_json::json!("x")
            } else {
                value(name)
            };
            serde_json::json!({"name": name, "datatype": i["datatype"], "shape": [1, 1], "data": [data]})
        })
        .collect();
    let (status, r) = crate::serve::post(
        &format!("{}/v2/models/r/infer", server.base),
        &serde_json::json!({"inputs": inputs}).to_string(),
    );
    assert_eq!(status, 200, "{r}");
    let dir = s.path("predictions");
    let record: serde_json::Value = crate::util::eventually("a log record", || {
        let file = std::fs::read_dir(&dir).ok()?.flatten().next()?.path();
        let text = std::fs::read_to_string(file).ok()?;
        text.lines()
            .next()
            .map(|l| serde_json::from_str(l).unwrap())
    });
    let tensors = record["inputs"].as_array().unwrap();
    let find = |name: &str| tensors.iter().find(|t| t["name"] == name);
    let hashed = find("workclass").unwrap()["data"][0].as_str().unwrap();
    assert!(
        hashed.starts_with("h:") && !hashed.contains("Private"),
        "{hashed}"
    );
    assert!(find("education").is_none(), "dropped: {record}");
    assert_eq!(find("native-country").unwrap()["data"][0], "*********ates");
    assert_eq!(
        find("age").unwrap()["data"][0],
        1.0,
        "other columns as sent"
    );
    let text = std::fs::read_to_string(
        std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path(),
    )
    .unwrap();
    assert!(
        !text.contains("Bachelors") && !text.contains("Private"),
        "{text}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700);
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path();
        assert_eq!(mode(&file), 0o600);
    }
}

#[test]
fn the_server_speaks_https_with_its_certificate_and_refuses_plain_http() {
    let s = setup();
    s.promoted_student();
    let tls = crate::util::repo().join("tests/data/tls");
    let (cert, key) = (tls.join("cert.pem"), tls.join("key.pem"));
    let server = serve_env(
        s.dir.path(),
        &[
            "--no-log",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        &[],
    );
    assert!(server.base.starts_with("https://"), "{}", server.base);
    let pem = std::fs::read(tls.join("ca.pem")).unwrap();
    let trusted = ureq::tls::Certificate::from_pem(&pem).unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::Specific(std::sync::Arc::new(vec![
                    trusted,
                ])))
                .build(),
        )
        .build()
        .into();
    let ready = agent
        .get(&format!("{}/v2/health/ready", server.base))
        .call()
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
    let mut answer = agent
        .post(&format!("{}/v2/models/r/infer", server.base))
        .header("content-type", "application/json")
        .send(one_row("q"))
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
    let body: serde_json::Value =
        serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(body["model_name"], "r", "{body}");
    // A client that does not trust the certificate, and plain HTTP, get nothing.
    let stranger = ureq::get(&format!("{}/v2/health/ready", server.base)).call();
    assert!(
        stranger.is_err(),
        "an untrusted certificate must fail the handshake"
    );
    let plain = server.base.replacen("https://", "http://", 1);
    assert!(
        ureq::get(&format!("{plain}/v2/health/ready"))
            .call()
            .is_err()
    );
    // Still serving after both.
    let again = agent
        .get(&format!("{}/v2/health/live", server.base))
        .call()
        .unwrap();
    assert_eq!(again.status().as_u16(), 200);

    // Half a pair, or a file that is not PEM, is refused at start-up with exit 2.
    let out = s.cmd(&["serve", "--port", "0", "--tls-cert", cert.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        crate::util::stderr(&out).contains("--tls-key"),
        "{}",
        crate::util::stderr(&out)
    );
    let junk = s.write("junk.pem", "not a key\n");
    let out = s.cmd(&[
        "serve",
        "--port",
        "0",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        junk.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        crate::util::stderr(&out).contains("junk.pem"),
        "{}",
        crate::util::stderr(&out)
    );
}

/// `rows` of the Adult sample as one Open Inference Protocol request, one tensor per
/// column, with `pick(column, row)` choosing each cell.
fn adult_request(
    header: &[String],
    numeric: &[bool],
    rows: usize,
    mut pick: impl FnMut(usize, usize) -> serde_json::Value,
) -> String {
    let inputs: Vec<serde_json::Value> = header
        .iter()
        .enumerate()
        .filter(|(_, name)| name.as_str() != "income-per-year")
        .map(|(c, name)| {
            let data: Vec<serde_json::Value> = (0..rows).map(|r| pick(c, r)).collect();
            let datatype = if numeric[c] { "FP64" } else { "BYTES" };
            serde_json::json!({"name": name, "shape": [rows, 1], "datatype": datatype, "data": data})
        })
        .collect();
    serde_json::json!({ "inputs": inputs }).to_string()
}

#[test]
fn a_client_sweeping_the_input_space_is_flagged_and_ordinary_traffic_is_not() {
    let s = setup();
    s.promoted_student();
    let text = std::fs::read_to_string(crate::util::data("adult_sample.csv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .unwrap()
        .split(',')
        .map(str::to_string)
        .collect();
    let cells: Vec<Vec<String>> = lines
        .map(|l| l.split(',').map(|c| c.trim().to_string()).collect())
        .collect();
    let numeric: Vec<bool> = (0..header.len())
        .map(|c| cells.iter().all(|r| r[c].parse::<f64>().is_ok()))
        .collect();
    let config = s.write(
        "serve.toml",
        "[extraction]\nwindow_rows = 50\nmax_off_profile_share = 0.5\n",
    );
    let server = serve_env(
        s.dir.path(),
        &["--no-log", "--config", config.to_str().unwrap()],
        &[],
    );
    let url = format!("{}/v2/models/r/infer", server.base);
    let send = |token: &str, body: String| {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent
            .post(&url)
            .header("content-type", "application/json")
            .header("authorization", &format!("Bearer {token}"))
            .send(body)
            .unwrap();
        let status = r.status().as_u16();
        assert_eq!(status, 200, "{}", r.body_mut().read_to_string().unwrap());
    };
    // Alice sends real rows.
    send(
        "alice",
        adult_request(&header, &numeric, 60, |c, r| {
            if numeric[c] {
                serde_json::json!(cells[r][c].parse::<f64>().unwrap())
            } else {
                serde_json::json!(cells[r][c])
            }
        }),
    );
    // Mallory draws every number uniformly over its range in the file, as a copier
    // without data would, and real categories.
    let mut seed = 7u64;
    let mut uniform = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let ranges: Vec<(f64, f64)> = (0..header.len())
        .map(|c| {
            let v = cells.iter().filter_map(|r| r[c].parse::<f64>().ok());
            v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            })
        })
        .collect();
    send(
        "mallory",
        adult_request(&header, &numeric, 60, |c, r| {
            if numeric[c] {
                let (lo, hi) = ranges[c];
                serde_json::json!(lo + uniform() * (hi - lo))
            } else {
                serde_json::json!(cells[(r * 7) % cells.len()][c])
            }
        }),
    );
    let (_, metrics) = crate::serve::get(&format!("{}/metrics", server.base));
    assert!(
        metrics.contains("distillery_extraction_suspects_total 1\n"),
        "one client flagged: {metrics}"
    );
    // Bad settings are refused at start-up with exit 2.
    let bad = s.write("bad.toml", "[extraction]\nmax_off_profile_share = 2\n");
    let out = s.cmd(&["serve", "--port", "0", "--config", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(crate::util::stderr(&out).contains("max_off_profile_share"));
}

#[test]
fn connections_past_the_cap_are_closed_and_counted_and_the_server_recovers() {
    use std::io::{Read, Write};
    let s = setup();
    s.promoted_student();
    let config = s.write("serve.toml", "[connections]\nmax = 2\nmax_headers = 8\n");
    let server = serve_env(
        s.dir.path(),
        &["--no-log", "--config", config.to_str().unwrap()],
        &[],
    );
    let address = server.base.trim_start_matches("http://").to_string();
    // Two idle clients hold both slots; a third gets its connection closed unanswered.
    let held: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(&address).unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let mut third = std::net::TcpStream::connect(&address).unwrap();
    third
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let _ = third.write_all(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\n\r\n");
    let mut answer = Vec::new();
    let _ = third.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    // Once the idle clients leave, the server answers again and has counted the refusal.
    drop(held);
    let metrics = crate::util::eventually("a free slot", || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let mut r = agent.get(&format!("{}/metrics", server.base)).call().ok()?;
        Some(r.body_mut().read_to_string().unwrap())
    });
    let refused: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("distillery_connections_refused_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0);
    assert!(refused >= 1.0, "{metrics}");
    // A request with more headers than allowed gets 431.
    let mut many = std::net::TcpStream::connect(&address).unwrap();
    many.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut request = String::from("GET /v2/health/live HTTP/1.1\r\nhost: x\r\n");
    for i in 0..20 {
        request.push_str(&format!("x-extra-{i}: {i}\r\n"));
    }
    request.push_str("connection: close\r\n\r\n");
    many.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    let _ = many.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
}

/// Sends a health request on `stream`; returns what came back (empty: closed unanswered).
fn health_on(mut stream: std::net::TcpStream) -> String {
    use std::io::{Read, Write};
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let _ =
        stream.write_all(b"GET /v2/health/live HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn one_address_cannot_take_every_connection() {
    let s = setup();
    s.promoted_student();
    let config = s.write("serve.toml", "[connections]\nmax = 8\nper_client = 2\n");
    let server = serve_env(
        s.dir.path(),
        &["--no-log", "--config", config.to_str().unwrap()],
        &[],
    );
    let address: std::net::SocketAddr = server.base.trim_start_matches("http://").parse().unwrap();
    // Two idle connections from 127.0.0.1 hold its share; its third is closed unanswered.
    let held: Vec<std::net::TcpStream> = (0..2)
        .map(|_| std::net::TcpStream::connect(address).unwrap())
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(200));
    let third = health_on(std::net::TcpStream::connect(address).unwrap());
    assert!(third.is_empty(), "{third}");
    // Another address (127.0.0.2, also loopback) is still served.
    let other = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let from: std::net::SocketAddr = "127.0.0.2:0".parse().unwrap();
    other.bind(&from.into()).unwrap();
    other.connect(&address.into()).unwrap();
    let answer = health_on(other.into());
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // Once 127.0.0.1's connections close, it is served again.
    drop(held);
    let again = crate::util::eventually("127.0.0.1 served again", || {
        let a = health_on(std::net::TcpStream::connect(address).unwrap());
        a.starts_with("HTTP/1.1 200").then_some(a)
    });
    assert!(again.contains("200"), "{again}");
}
