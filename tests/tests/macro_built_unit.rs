//! Macro-built units run as child processes against a local Pepeunit instance: the examples'
//! `macro_unit` (a binary of this crate) — its input reaches the `#[input]` function, the `#[output]`
//! function publishes, SIGTERM ends it cleanly — and a project rendered from `templates/unit`, built with
//! cargo as a user would. Every child is killed on every path.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use pepeunit::testkit::{Instance, InstanceOptions, UnitSpec};
use support::{Dir, Unit, WAIT, output, stop_with_sigterm, wait_log};

#[tokio::test(flavor = "current_thread")]
async fn macro_unit_handles_input_publishes_output_and_stops_on_sigterm() {
    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let dir = Dir::new("macro-unit");
    let unit = instance
        .create_unit(UnitSpec::new("macro", &dir.0))
        .await
        .unwrap();
    let mut process = Unit::start(Path::new(env!("CARGO_BIN_EXE_macro_unit")), &dir.0);

    // The first state comes after the subscriptions, on the same connection.
    let state = instance.wait_for_state(&unit, WAIT).await;
    assert!(state.is_some(), "no state: {}", output(&dir.0));
    // The setup body ran before the connection started: its entry is in log.json only.
    let log = std::fs::read_to_string(dir.0.join("log.json")).unwrap();
    assert!(log.contains("macro unit started"), "{log}");
    instance
        .publish_input(&unit, "input/pepeunit", "21")
        .await
        .unwrap();
    wait_log(&instance, &unit, "got 21", &dir.0).await;
    let output = instance.next_output(&unit, "output/pepeunit", WAIT).await;
    assert_eq!(output.as_ref().and_then(|m| m.text()), Some("42"));

    stop_with_sigterm(&mut process, &dir.0);
}

#[test]
fn macro_unit_without_its_files_exits_with_an_error() {
    let dir = Dir::new("macro-unit-empty");
    let mut process = Unit::start(Path::new(env!("CARGO_BIN_EXE_macro_unit")), &dir.0);
    assert_eq!(process.wait().code(), Some(1));
    let output = output(&dir.0);
    assert!(output.starts_with("error: "), "{output}");
    assert!(output.contains("env.json"), "{output}");
}

/// Renders `templates/unit` as cargo-generate would (the project name is its only placeholder), with
/// `pepeunit` taken from this workspace, and builds it with the workspace's lock file; returns the binary.
fn build_template_unit(project: &Path) -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let template = workspace.join("templates/unit");
    std::fs::create_dir_all(project.join("src")).unwrap();
    for file in ["src/main.rs", "env_example.json", "schema_example.json"] {
        std::fs::copy(template.join(file), project.join(file)).unwrap();
    }
    let manifest = std::fs::read_to_string(template.join("Cargo.toml.liquid"))
        .unwrap()
        .replace("{{project-name}}", "template-unit");
    let published = r#"pepeunit = { version = "0.1", features = ["all"] }"#;
    assert!(manifest.contains(published), "{manifest}");
    let local = format!(
        r#"pepeunit = {{ path = {:?}, features = ["all"] }}"#,
        workspace.join("pepeunit")
    );
    std::fs::write(
        project.join("Cargo.toml"),
        manifest.replace(published, &local),
    )
    .unwrap();
    std::fs::copy(workspace.join("Cargo.lock"), project.join("Cargo.lock")).unwrap();
    // Its own target dir: the outer cargo may still hold the workspace's.
    let target = workspace.join("target/template-unit");
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--manifest-path"])
        .arg(project.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .status()
        .unwrap();
    assert!(built.success(), "the rendered template does not build");
    target.join("debug/template-unit")
}

#[tokio::test(flavor = "current_thread")]
async fn unit_from_the_template_builds_and_runs() {
    let project = Dir::new("template-project");
    let binary = build_template_unit(&project.0);

    let instance = Instance::start(InstanceOptions::default()).await.unwrap();
    let dir = Dir::new("template-unit");
    let unit = instance
        .create_unit(
            UnitSpec::new("template", &dir.0)
                .with_repo_examples(&project.0)
                .unwrap(),
        )
        .await
        .unwrap();
    let mut process = Unit::start(&binary, &dir.0);
    assert!(
        instance.wait_for_state(&unit, WAIT).await.is_some(),
        "no state: {}",
        output(&dir.0)
    );
    instance
        .publish_input(&unit, "input/pepeunit", "hello")
        .await
        .unwrap();
    wait_log(&instance, &unit, "got hello", &dir.0).await;
    stop_with_sigterm(&mut process, &dir.0);
}
