use pepeunit::prelude::*;

#[pepeunit::output("output/pepeunit", every = "DELAY_PUB_MSG")]
fn listed() -> i64 {
    1
}

#[pepeunit::output("outptu/pepeunit", every = "1s")]
fn not_in_schema() -> i64 {
    1
}

#[pepeunit::output("output/pepeunit", every = "DELAY_PUB_MGS")]
fn not_in_env() -> i64 {
    1
}

#[pepeunit::output("output/pepeunit", every = "GREETING")]
fn not_a_number() -> i64 {
    1
}

// A numeric string is a number by the rule env.json is read by: accepted, no error here.
#[pepeunit::output("output/pepeunit", every = "PERIOD_TEXT")]
fn numeric_text() -> i64 {
    1
}

#[pepeunit::main(mqtt, rest)]
async fn main(_unit: PepeunitClient) -> pepeunit::Result<()> {
    Ok(())
}
