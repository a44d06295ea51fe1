//! Issue #7 acceptance: every kind of bad request gets the right status and a message that
//! says what was wrong — never a 500 — and the server keeps serving afterwards.

use std::io::{Read, Write};

use crate::serve::{admin, post, serve_env};
use crate::util::{setup, stderr};

fn tensor(name: &str, datatype: &str, shape: serde_json::Value, data: serde_json::Value) -> String {
    serde_json::json!({"inputs": [{"name": name, "datatype": datatype, "shape": shape, "data": data}]})
        .to_string()
}

#[test]
fn bad_requests_get_the_right_status_and_a_clear_message_and_serving_goes_on() {
    let s = setup();
    s.promoted_student();
    let server = serve_env(
        s.dir.path(),
        &["--no-log"],
        &[("DISTILLERY_ADMIN_TOKEN", "tok")],
    );
    let infer = format!("{}/v2/models/r/infer", server.base);
    let row: Vec<f64> = (0..14).map(f64::from).collect();
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("malformed JSON", "{\"inputs\": [".into(), 400, "not JSON"),
        (
            "a JSON NaN literal",
            "{\"inputs\": [NaN]}".into(),
            400,
            "not JSON",
        ),
        ("no inputs", "{}".into(), 400, "no \"inputs\""),
        (
            "a shape that does not match the data",
            tensor(
                "x",
                "FP64",
                serde_json::json!([2, 14]),
                serde_json::json!(row),
            ),
            400,
            "shape",
        ),
        (
            "too few columns",
            tensor(
                "x",
                "FP64",
                serde_json::json!([1, 13]),
                serde_json::json!(&row[..13]),
            ),
            400,
            "14",
        ),
        (
            "an unknown datatype",
            tensor(
                "x",
                "FLOAT",
                serde_json::json!([1, 14]),
                serde_json::json!(row),
            ),
            400,
            "datatype FLOAT",
        ),
        (
            "text in a numeric tensor",
            tensor(
                "age",
                "FP32",
                serde_json::json!([1]),
                serde_json::json!(["old"]),
            ),
            400,
            "input 'age' row 0",
        ),
        (
            "the string NaN as a number",
            tensor(
                "age",
                "FP32",
                serde_json::json!([1]),
                serde_json::json!(["NaN"]),
            ),
            400,
            "input 'age' row 0",
        ),
        // Issue #15 regressions: each of these used to panic the handler or answer NaN.
        (
            "an_fp64_input_of_1e300_is_refused_not_answered_with_null",
            tensor(
                "age",
                "FP64",
                serde_json::json!([1]),
                serde_json::json!([1e300]),
            ),
            400,
            "input 'age' row 0: 1e+300 is out of range",
        ),
        (
            "an_empty_shape_gets_a_400_not_a_closed_connection",
            tensor("age", "FP64", serde_json::json!([]), serde_json::json!([])),
            400,
            "input 'age': shape [] is a scalar",
        ),
        (
            "a_shape_whose_product_overflows_gets_a_400",
            tensor(
                "x",
                "FP64",
                serde_json::json!([9_223_372_036_854_775_808u64, 14]),
                serde_json::json!(row),
            ),
            400,
            "input 'x': shape [9223372036854775808, 14] is too large",
        ),
        (
            "an_int8_of_300_is_refused",
            tensor(
                "age",
                "INT8",
                serde_json::json!([1]),
                serde_json::json!([300]),
            ),
            400,
            "300 is not a INT8",
        ),
        (
            "a_duplicate_input_name_is_refused_not_last_wins",
            serde_json::json!({"inputs": [
                {"name": "age", "datatype": "FP64", "shape": [1], "data": [30]},
                {"name": "age", "datatype": "FP64", "shape": [1], "data": [40]},
            ]})
            .to_string(),
            400,
            "input 'age' is given twice",
        ),
    ];
    for (what, body, status, says) in &cases {
        let (got, e) = post(&infer, body);
        assert_eq!(got, *status, "{what}: {e}");
        let message = e["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{what}: no error message in {e}"));
        assert!(
            message.contains(says),
            "{what}: '{message}' does not say '{says}'"
        );
    }

    // An unknown category is not an error: it is an unseen level, as in training.
    let mut unseen = serde_json::json!({"inputs": []});
    let features = [
        "age",
        "workclass",
        "fnlwgt",
        "education",
        "education-num",
        "marital-status",
        "occupation",
        "relationship",
        "race",
        "sex",
        "capital-gain",
        "capital-loss",
        "hours-per-week",
        "native-country",
    ];
    for f in features {
        let (datatype, value) = if [
            "age",
            "fnlwgt",
            "education-num",
            "capital-gain",
            "capital-loss",
            "hours-per-week",
        ]
        .contains(&f)
        {
            ("FP64", serde_json::json!(40))
        } else {
            ("BYTES", serde_json::json!("never-seen-before"))
        };
        unseen["inputs"].as_array_mut().unwrap().push(
            serde_json::json!({"name": f, "datatype": datatype, "shape": [1], "data": [value]}),
        );
    }
    let (status, r) = post(&infer, &unseen.to_string());
    assert_eq!(status, 200, "{r}");

    // 100 MB: refused with 413 from its Content-Length, before the body is read (a
    // raw socket, because a client still sending when the server closes sees a reset).
    let address = server.base.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    socket
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        socket,
        "POST /v2/models/r/infer HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{{\"inputs\": [], \"pad\": \"",
        100 << 20
    )
    .unwrap();
    socket.write_all(&[b'x'; 1 << 16]).unwrap();
    let mut answer = String::new();
    let _ = socket.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than"), "{answer}");

    // Admin calls without the token.
    let (status, e) = admin(
        &server.base,
        "/admin/models/r/canary",
        None,
        "{\"version\": 1, \"weight\": 5}",
    );
    assert_eq!(status, 401, "{e}");
    assert!(e["error"].as_str().unwrap().contains("token"), "{e}");
    let (status, e) = admin(
        &server.base,
        "/admin/models/r/canary",
        Some("tok"),
        "{\"version\": 1,",
    );
    assert_eq!(status, 400, "{e}");
    assert!(
        e["error"]
            .as_str()
            .unwrap()
            .starts_with("the body is not JSON"),
        "{e}"
    );

    // Still serving.
    let good = tensor(
        "x",
        "FP64",
        serde_json::json!([1, 14]),
        serde_json::json!(row),
    );
    let (status, r) = post(&infer, &good);
    assert_eq!(status, 200, "{r}");
}

#[test]
fn sigterm_drains_requests_in_flight_and_flushes_the_log() {
    let s = setup();
    s.promoted_student();
    let mut server = crate::serve::serve_with(s.dir.path(), &[]);
    let infer = format!("{}/v2/models/r/infer", server.base);
    for i in 0..20 {
        let (status, _) = post(&infer, &crate::serve::one_row(&format!("r{i}")));
        assert_eq!(status, 200);
    }
    // A big batch is in flight when SIGTERM arrives; it is still answered. Its last byte
    // is held back until after the signal, so the request is surely mid-way.
    let rows = 60_000;
    let data: Vec<f64> = (0..rows * 14).map(|i| (i % 50) as f64).collect();
    let big = tensor(
        "x",
        "FP64",
        serde_json::json!([rows, 14]),
        serde_json::json!(data),
    );
    let address = server.base.trim_start_matches("http://").to_string();
    let mut socket = std::net::TcpStream::connect(&address).unwrap();
    write!(
        socket,
        "POST /v2/models/r/infer HTTP/1.1\r\nhost: {address}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        big.len()
    )
    .unwrap();
    let (head, last) = big.as_bytes().split_at(big.len() - 1);
    socket.write_all(head).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let pid = server.child.id().to_string();
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(kill.success());
    std::thread::sleep(std::time::Duration::from_millis(200));
    socket.write_all(last).unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the request in flight is answered: {}",
        &answer[..answer.len().min(300)]
    );
    let exit = server.child.wait().unwrap();
    assert_eq!(exit.code(), Some(0), "a clean stop");
    // Everything was written before the process exited: no waiting here.
    let records: usize = std::fs::read_dir(s.path("predictions"))
        .unwrap()
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(records, 21);
}

#[test]
fn json_log_lines_for_log_collectors() {
    use std::io::BufRead;
    let s = setup();
    s.promoted_student();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_distillery"))
        .args(["serve", "--port", "0", "--no-log"])
        .env("DISTILLERY_LOG_FORMAT", "json")
        .envs(crate::util::backend_env(s.dir.path()))
        .current_dir(s.dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("serving r/1 on http://"), "{line}");
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let messages: Vec<&str> = lines
        .iter()
        .map(|l| l["fields"]["message"].as_str().unwrap())
        .collect();
    assert!(messages.contains(&"serving"), "{messages:?}");
    assert!(
        messages.contains(&"stopped: requests drained"),
        "{messages:?}"
    );
    let serving = lines
        .iter()
        .find(|l| l["fields"]["message"] == "serving")
        .unwrap();
    assert_eq!(serving["fields"]["models"], "r/1");
    assert!(serving["timestamp"].is_string());
}

#[test]
fn shutdown_ends_despite_idle_and_half_sent_connections() {
    // Issue #15: an idle keep-alive connection and a half-sent request used to keep the
    // server from stopping on SIGTERM for good. Now idle connections time out, and the
    // drain deadline (2 s here) bounds the stop.
    let s = setup();
    s.promoted_student();
    let config = s.write("serve.toml", "[timeouts]\nidle_s = 1.5\ndrain_s = 2\n");
    let mut server = serve_env(
        s.dir.path(),
        &["--no-log", "--config", config.to_str().unwrap()],
        &[],
    );
    let address = server.base.trim_start_matches("http://").to_string();
    // A connection that sends nothing is closed once the idle limit passes.
    let mut idle = std::net::TcpStream::connect(&address).unwrap();
    idle.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .unwrap();
    let started = std::time::Instant::now();
    let mut buf = Vec::new();
    let _ = idle.read_to_end(&mut buf);
    let waited = started.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(10),
        "an idle connection is closed after the idle limit, not kept for good ({waited:?})"
    );
    // A request whose headers never finish, and a keep-alive connection left idle after
    // an answer, both open when SIGTERM comes.
    let mut half = std::net::TcpStream::connect(&address).unwrap();
    write!(
        half,
        "POST /v2/models/r/infer HTTP/1.1\r\nhost: {address}\r\n"
    )
    .unwrap();
    let mut kept = std::net::TcpStream::connect(&address).unwrap();
    write!(
        kept,
        "GET /v2/health/live HTTP/1.1\r\nhost: {address}\r\n\r\n"
    )
    .unwrap();
    let mut answer = [0u8; 12];
    kept.read_exact(&mut answer).unwrap();
    assert_eq!(&answer, b"HTTP/1.1 200");
    let stopping = std::time::Instant::now();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = crate::util::eventually("the server to exit after SIGTERM", || {
        server.child.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
    let took = stopping.elapsed();
    assert!(
        took < std::time::Duration::from_secs(15),
        "the stop took {took:?}; the drain deadline is 2 s"
    );
}

#[test]
fn an_empty_admin_token_refuses_to_start_instead_of_disabling_the_admin_api() {
    let s = setup();
    s.promoted_student();
    let empty = s.write("token", "\n");
    let out = s.cmd(&[
        "serve",
        "--port",
        "0",
        "--admin-token-file",
        empty.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is empty"), "{}", stderr(&out));
    let out = s.cmd_env(
        &["serve", "--port", "0"],
        &[("DISTILLERY_ADMIN_TOKEN", " ")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("DISTILLERY_ADMIN_TOKEN is empty"),
        "{}",
        stderr(&out)
    );
}
