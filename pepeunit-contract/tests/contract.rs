//! The contract files of the interop vectors, and the env value rule both build sides share.

use pepeunit_contract::{EnvExample, SchemaExample, read_as};
use serde_json::{Value, json};

fn vector(rel: &str) -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../vectors/");
    std::fs::read_to_string(format!("{path}{rel}")).unwrap()
}

#[test]
fn schema_example_gives_the_names_of_each_section() {
    let text = vector("schema/schema_example.json");
    let file: Value = serde_json::from_str(&text).unwrap();
    let example = SchemaExample::parse(&text).unwrap();
    let names =
        |section: &str| -> Vec<String> { serde_json::from_value(file[section].clone()).unwrap() };
    assert_eq!(example.input_base_topic, names("input_base_topic"));
    assert_eq!(example.output_base_topic, names("output_base_topic"));
    assert_eq!(example.input_topic, names("input_topic"));
    assert_eq!(example.output_topic, names("output_topic"));
    assert!(!example.input_topic.is_empty());

    let partial = SchemaExample::parse(r#"{"output_topic": ["out"]}"#).unwrap();
    assert!(partial.input_topic.is_empty() && partial.output_topic == ["out"]);
    let wrong = SchemaExample::parse(r#"{"input_topic": {"a": []}}"#).unwrap_err();
    assert!(wrong.contains("input_topic"), "{wrong}");
    let not_object = SchemaExample::parse("[1]").unwrap_err();
    assert!(not_object.contains("JSON object"), "{not_object}");
}

#[test]
fn env_example_numbers_follow_the_env_rule() {
    let example = EnvExample::parse(&vector("env/env_example.json")).unwrap();
    assert!(!example.variables.is_empty());
    let example =
        EnvExample::parse(r#"{"N": 5, "S": " 2.5 ", "T": "five", "B": true, "L": [1]}"#).unwrap();
    assert!(example.is_number("N"));
    assert!(
        example.is_number("S"),
        "a numeric string is a number, as env.json reads it"
    );
    assert!(!example.is_number("T"));
    assert!(!example.is_number("B"));
    assert!(!example.is_number("L"));
    assert!(!example.is_number("MISSING"));
    assert!(
        EnvExample::parse("not json")
            .unwrap_err()
            .contains("not valid JSON")
    );
}

#[test]
fn env_values_are_read_leniently_both_ways() {
    assert_eq!(read_as::<i64>(&json!(" 7 ")), Some(7));
    assert_eq!(read_as::<f64>(&json!("1e3")), Some(1000.0));
    assert_eq!(read_as::<bool>(&json!("true")), Some(true));
    assert_eq!(read_as::<String>(&json!(12)), Some("12".to_owned()));
    assert_eq!(read_as::<String>(&json!(false)), Some("false".to_owned()));
    assert_eq!(read_as::<u8>(&json!("300")), None);
    assert_eq!(read_as::<i64>(&json!("seven")), None);
    assert_eq!(read_as::<i64>(&json!([7])), None);
}
