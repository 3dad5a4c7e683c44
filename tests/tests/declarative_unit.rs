//! A unit made only of declarative items (`units/declarative_unit.rs`), run as a child process
//! against a local instance: typed inputs convert and bad payloads are logged and skipped while good
//! ones keep flowing; an output `every = "DELAY_PUB_MSG"` keeps that period and follows an
//! `env_update`; an output returning `None` publishes nothing; `restart = "reload"` keeps the
//! process running through an update.

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use pepeunit::Command;
use pepeunit_testkit::{
    Instance, InstanceOptions, ProgramSource, TestUnit, UnitSpec, UpdateStatus,
};
use serde_json::Value;
use support::{Dir, Unit, WAIT, output, stop_with_sigterm, wait_log, wait_log_where};

const COMMIT: &str = "89abcdef0123456789abcdef0123456789abcdef";

/// The median time between the next `count + 1` messages on output `name`.
async fn median_period(instance: &Instance, unit: &TestUnit, name: &str, count: usize) -> Duration {
    let mut arrivals = Vec::new();
    while arrivals.len() <= count {
        let message = instance.next_output(unit, name, WAIT).await;
        assert!(message.is_some(), "{name} stopped publishing");
        arrivals.push(Instant::now());
    }
    let mut gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort();
    gaps[gaps.len() / 2]
}

/// A `Warning` entry saying the input skipped a message that is not `expected`.
async fn wait_skipped(
    instance: &Instance,
    unit: &TestUnit,
    dir: &Path,
    input: &str,
    expected: &str,
) -> String {
    let what = format!("about {input} skipping a non-{expected}");
    let entry = wait_log_where(instance, unit, dir, &what, |entry: &Value| {
        let text = entry["text"].as_str().unwrap_or_default();
        entry["level"] == "Warning"
            && text.contains(input)
            && text.contains(&format!("not a `{expected}`"))
    })
    .await;
    entry["text"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test(flavor = "current_thread")]
async fn a_declarative_unit_converts_inputs_publishes_on_schedule_and_reloads() {
    let options = InstanceOptions {
        state_send_interval: 1,
        ..Default::default()
    };
    let instance = Instance::start(options).await.unwrap();
    let dir = Dir::new("declarative-unit");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR"));
    let unit = instance
        .create_unit(
            UnitSpec::new("declarative", &dir.0)
                .with_repo_examples(examples)
                .unwrap(),
        )
        .await
        .unwrap();
    let mut process = Unit::start(
        Path::new(env!("CARGO_BIN_EXE_declarative_unit")),
        &dir.0,
        &[],
    );
    assert!(
        instance.wait_for_state(&unit, WAIT).await.is_some(),
        "no state: {}",
        output(&dir.0)
    );

    // Typed inputs: a number, a JSON struct, text; each bad payload is logged and skipped, and the
    // good ones after it still arrive.
    let publish = |name: &'static str, payload: &'static [u8]| {
        let (instance, unit) = (&instance, &unit);
        async move { instance.publish_input(unit, name, payload).await.unwrap() }
    };
    publish("number/pepeunit", b"21").await;
    wait_log(&instance, &unit, "number 21", &dir.0).await;
    publish("number/pepeunit", b"twenty-two").await;
    let why = wait_skipped(&instance, &unit, &dir.0, "number/pepeunit", "i64").await;
    assert!(
        why.contains("on_number") && why.contains("`twenty-two`"),
        "{why}"
    );
    publish("number/pepeunit", b" 22 ").await;
    wait_log(&instance, &unit, "number 22", &dir.0).await;
    // `publish =`: each number answered (the skipped one not); `on_change`: the parity once per
    // change. Each answer is awaited before the next number (a burst may be evaluated once, on its
    // latest value).
    for (payload, answer, parity) in [
        (&b"21"[..], Some("ack 21"), Some("odd")),
        (b"twenty-two", None, None),
        (b"22", Some("ack 22"), Some("even")),
    ] {
        publish("input/pepeunit", payload).await;
        if let (Some(answer), Some(parity)) = (answer, parity) {
            let message = instance.next_output(&unit, "ack/pepeunit", WAIT).await;
            assert_eq!(message.as_ref().and_then(|m| m.text()), Some(answer));
            let message = instance.next_output(&unit, "parity/pepeunit", WAIT).await;
            assert_eq!(message.as_ref().and_then(|m| m.text()), Some(parity));
        }
    }
    publish("input/pepeunit", b"24").await;
    let message = instance.next_output(&unit, "ack/pepeunit", WAIT).await;
    assert_eq!(message.as_ref().and_then(|m| m.text()), Some("ack 24"));
    publish("input/pepeunit", b"25").await;
    let message = instance.next_output(&unit, "parity/pepeunit", WAIT).await;
    // 24 is even like 22: nothing published until 25.
    assert_eq!(message.as_ref().and_then(|m| m.text()), Some("odd"));

    publish("reading/pepeunit", br#"{"celsius": "hot"}"#).await;
    let why = wait_skipped(
        &instance,
        &unit,
        &dir.0,
        "reading/pepeunit",
        "Json<Reading>",
    )
    .await;
    assert!(why.contains("invalid type"), "{why}");
    publish("reading/pepeunit", br#"{"celsius": 20.5}"#).await;
    wait_log(&instance, &unit, "reading 20.5", &dir.0).await;

    publish("text/pepeunit", b"\xff\xfe not text").await;
    let why = wait_skipped(&instance, &unit, &dir.0, "text/pepeunit", "String").await;
    assert!(why.contains("not UTF-8"), "{why}");
    publish("text/pepeunit", b"hello").await;
    wait_log(&instance, &unit, "text hello", &dir.0).await;

    // `echo` runs every 100 ms but returns `None` unless a text came: one text, one message.
    let echo = instance.next_output(&unit, "echo/pepeunit", WAIT).await;
    assert_eq!(echo.as_ref().and_then(|m| m.text()), Some("hello"));
    let more = instance
        .next_output(&unit, "echo/pepeunit", Duration::from_millis(1500))
        .await;
    assert!(more.is_none(), "None published something: {more:?}");

    // `counter` runs every DELAY_PUB_MSG = 1 s (median of 4 gaps within ±40 %: scheduling on a busy
    // machine jitters single gaps, not the median) …
    let period = median_period(&instance, &unit, "counter/pepeunit", 4).await;
    assert!(
        period > Duration::from_millis(600) && period < Duration::from_millis(1400),
        "{period:?}"
    );
    // … and every 0.25 s once an env_update brings DELAY_PUB_MSG = 0.25.
    instance.set_env_var(&unit, "DELAY_PUB_MSG", 0.25).unwrap();
    instance
        .send_command(&unit, Command::EnvUpdate)
        .await
        .unwrap();
    let deadline = Instant::now() + WAIT;
    while std::fs::read_to_string(dir.0.join("env.json")).is_ok_and(|env| !env.contains("0.25")) {
        assert!(
            Instant::now() < deadline,
            "env.json never updated: {}",
            output(&dir.0)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    instance.next_output(&unit, "counter/pepeunit", WAIT).await;
    let period = median_period(&instance, &unit, "counter/pepeunit", 8).await;
    assert!(
        period > Duration::from_millis(150) && period < Duration::from_millis(350),
        "{period:?}"
    );

    // restart = "reload": the update is applied and reported by the same, still running process.
    let files = vec![("README.md".to_owned(), b"v2\n".to_vec())];
    instance
        .set_program(&unit, COMMIT, ProgramSource::Files(files), None)
        .unwrap();
    instance.send_command(&unit, Command::Update).await.unwrap();
    wait_log_where(
        &instance,
        &unit,
        &dir.0,
        "about restart mode ReloadOnly",
        |entry| {
            entry["text"]
                .as_str()
                .is_some_and(|t| t.contains("restart mode ReloadOnly"))
        },
    )
    .await;
    let success = UpdateStatus::Success {
        commit: COMMIT.into(),
    };
    let deadline = Instant::now() + WAIT;
    while instance.update_status(&unit) != success {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            instance.wait_for_state(&unit, left).await.is_some(),
            "no state with {COMMIT}"
        );
    }
    assert!(
        process.0.try_wait().unwrap().is_none(),
        "the unit exited: {}",
        output(&dir.0)
    );
    assert_eq!(
        std::fs::read_to_string(dir.0.join("README.md")).unwrap(),
        "v2\n"
    );

    assert!(
        instance.rejections().is_empty(),
        "{:?}",
        instance.rejections()
    );
    stop_with_sigterm(&mut process, &dir.0);
}
